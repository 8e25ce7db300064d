// X.509 certificate facts for `issued` events, read with OpenSSL 3 (the one place in collect/
// clients that includes OpenSSL; every OpenSSL object is held by an RAII wrapper in the .cc).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "core/status.h"

namespace certcast::clients {

// A PEM file larger than this is refused. certbot's cert.pem holds one certificate (~2 KiB) and
// fullchain.pem/lego's .crt two or three; a certificate with 100 SANs is ~6 KiB. 256 KiB bounds
// what OpenSSL is asked to decode, with room for any real chain.
inline constexpr size_t kMaxCertificateFileBytes = 256u << 10;

struct CertificateFacts {
  std::string serial;  // lower-case hex, no leading zero bytes ("4673844dd4a1f7c8")
  absl::Time not_before;
  absl::Time not_after;
  // subjectAltName dNSName entries, lower case, in certificate order. Entries that are not valid
  // events-v1 names (ValidateDnsName) are dropped: they cannot name a lineage.
  std::vector<std::string> names;
  bool operator==(const CertificateFacts&) const = default;
};

// Reads the first certificate of `data`: PEM ("-----BEGIN CERTIFICATE-----", as certbot's
// cert.pem and lego's .crt) when the text contains a PEM header, DER otherwise.
// Errors (InvalidArgument) say what is wrong: size, no certificate, undecodable, bad time.
StatusOr<CertificateFacts> ParseCertificate(std::string_view data);

}  // namespace certcast::clients
