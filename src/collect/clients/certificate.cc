#include "collect/clients/certificate.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

#include "core/event_json.h"
#include "core/strings.h"
#include "collect/clients/common.h"

namespace certcast::clients {
namespace {

// RAII for the OpenSSL types used here: each pointer is freed by its own function.
struct BioFree { void operator()(BIO* p) const { BIO_free(p); } };
struct X509Free { void operator()(X509* p) const { X509_free(p); } };
struct BignumFree { void operator()(BIGNUM* p) const { BN_free(p); } };
struct OpensslFree { void operator()(char* p) const { OPENSSL_free(p); } };
struct GeneralNamesFree {
  void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using BignumPtr = std::unique_ptr<BIGNUM, BignumFree>;
using OpensslString = std::unique_ptr<char, OpensslFree>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, GeneralNamesFree>;

// OpenSSL keeps errors in a per-thread queue; a failed call here must not leave them for an
// unrelated caller to find later.
struct ClearErrorsOnExit {
  ~ClearErrorsOnExit() { ERR_clear_error(); }
};

StatusOr<absl::Time> ToTime(const ASN1_TIME* time, std::string_view which) {
  struct tm parts = {};
  // ASN1_TIME_to_tm accepts UTCTime and GeneralizedTime and checks the format (RFC 5280
  // section 4.1.2.5); the result is UTC.
  if (time == nullptr || ASN1_TIME_to_tm(time, &parts) != 1) {
    return InvalidArgumentError(StrCat("certificate ", which, " is not a valid time"));
  }
  const absl::CivilSecond civil(parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                                parts.tm_hour, parts.tm_min, parts.tm_sec);
  return absl::FromCivil(civil, absl::UTCTimeZone());
}

}  // namespace

StatusOr<CertificateFacts> ParseCertificate(std::string_view data) {
  ClearErrorsOnExit clear_errors;
  if (data.size() > kMaxCertificateFileBytes) {
    return InvalidArgumentError(
        StrCat("certificate file larger than ", kMaxCertificateFileBytes, " bytes"));
  }
  if (data.empty()) return InvalidArgumentError("certificate file is empty");
  X509Ptr cert;
  static constexpr std::string_view kPemHeader = "-----BEGIN CERTIFICATE-----";
  if (data.find(kPemHeader) != std::string_view::npos) {
    BioPtr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
    if (!bio) return InternalError("BIO_new_mem_buf failed");
    // PEM_read_bio_X509 skips text before the first "-----BEGIN CERTIFICATE-----" (comments,
    // other PEM blocks such as a private key before it) and reads the first certificate.
    cert.reset(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) return InvalidArgumentError("PEM certificate block does not decode");
  } else {
    if (data.find("-----BEGIN ") != std::string_view::npos) {
      return InvalidArgumentError("PEM data holds no CERTIFICATE block");
    }
    const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
    const unsigned char* cursor = bytes;
    cert.reset(d2i_X509(nullptr, &cursor, static_cast<long>(data.size())));
    if (!cert) return InvalidArgumentError("neither PEM nor a DER certificate");
  }

  CertificateFacts facts;
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert.get());
  BignumPtr serial_number(serial ? ASN1_INTEGER_to_BN(serial, nullptr) : nullptr);
  if (!serial_number) return InvalidArgumentError("certificate serial number does not decode");
  if (BN_is_negative(serial_number.get())) {
    // RFC 5280 section 4.1.2.2: "The serial number MUST be a positive integer".
    return InvalidArgumentError("certificate serial number is negative");
  }
  if (BN_is_zero(serial_number.get())) {
    facts.serial = "0";
  } else {
    OpensslString hex(BN_bn2hex(serial_number.get()));
    if (!hex) return InternalError("BN_bn2hex failed");
    facts.serial = LowerAscii(hex.get());
  }
  ASSIGN_OR_RETURN(facts.not_before, ToTime(X509_get0_notBefore(cert.get()), "notBefore"));
  ASSIGN_OR_RETURN(facts.not_after, ToTime(X509_get0_notAfter(cert.get()), "notAfter"));
  if (facts.not_after <= facts.not_before) {
    return InvalidArgumentError("certificate notAfter is not after notBefore");
  }

  int critical = 0;
  GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, &critical, nullptr)));
  if (names) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
      if (name == nullptr || name->type != GEN_DNS) continue;  // IP addresses, e-mail, URIs
      const ASN1_IA5STRING* dns = name->d.dNSName;
      if (dns == nullptr || dns->data == nullptr || dns->length <= 0) continue;
      std::string text = LowerAscii(std::string_view(
          reinterpret_cast<const char*>(dns->data), static_cast<size_t>(dns->length)));
      if (!ValidateDnsName(text).ok()) continue;
      facts.names.push_back(std::move(text));
    }
  }
  return facts;
}

}  // namespace certcast::clients
