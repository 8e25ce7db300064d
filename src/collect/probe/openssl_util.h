// The one place OpenSSL types are owned: unique_ptr aliases with their free functions, and the
// error-queue helper. Internal to collect/probe.
#pragma once

#include <openssl/bio.h>
#include <openssl/ct.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

namespace certcast::probe::ossl {

template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* p) const { Free(p); }
};

using SslCtx = std::unique_ptr<SSL_CTX, Deleter<SSL_CTX_free>>;
using Ssl = std::unique_ptr<SSL, Deleter<SSL_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using Bio = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using Bignum = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using AuthorityKeyId = std::unique_ptr<AUTHORITY_KEYID, Deleter<AUTHORITY_KEYID_free>>;
using OcspResponse = std::unique_ptr<OCSP_RESPONSE, Deleter<OCSP_RESPONSE_free>>;
using OcspBasic = std::unique_ptr<OCSP_BASICRESP, Deleter<OCSP_BASICRESP_free>>;
using OcspCertId = std::unique_ptr<OCSP_CERTID, Deleter<OCSP_CERTID_free>>;
using SctList = std::unique_ptr<STACK_OF(SCT), Deleter<SCT_LIST_free>>;

// Drains OpenSSL's thread-local error queue into one line ("" when empty), so an error never
// leaks into the next call's diagnosis.
inline std::string DrainErrors() {
  std::string out;
  unsigned long code;
  while ((code = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

}  // namespace certcast::probe::ossl
