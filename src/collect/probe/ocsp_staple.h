// The stapled OCSP response a TLS server sends (RFC 6066 status_request): bytes the server, or
// anyone in its path, chose. Parsed by OpenSSL; fuzzed by fuzz/fuzz_ocsp_staple.cc.
#pragma once

#include <initializer_list>

#include <openssl/x509.h>

namespace certcast::probe {

// RFC 6960 status of the leaf in a stapled response; true when it says revoked. A response that
// cannot be parsed or does not cover the leaf says nothing (false): the staple's presence is
// reported separately, and an unverifiable staple is not proof of revocation.
// The leaf's issuer is looked up in the verified chain first (it holds the trust anchor from the
// store when the server sends only its leaf), then in what the peer sent.
bool StapleSaysRevoked(const unsigned char* der, long length, X509* leaf,
                       std::initializer_list<STACK_OF(X509)*> chains);

}  // namespace certcast::probe
