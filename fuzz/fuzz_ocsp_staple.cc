// Fuzzes the stapled OCSP response check of the TLS probe (collect/probe/ocsp_staple.h): the
// bytes a server, or anyone in its path, staples to its handshake. The leaf and its issuer are
// fixed (a P-256 CA and a leaf of serial 0x1234, made with `openssl req`/`x509`); the seeds are
// OpenSSL's `ocsp -index` responses for that leaf: good, revoked, and about another certificate.
// Beyond "no crash": the answer is the same when asked twice (no state kept between calls).
#include <cstdint>
#include <cstdlib>

#include <openssl/pem.h>

#include "collect/probe/ocsp_staple.h"

namespace {

constexpr char kIssuer[] = R"(-----BEGIN CERTIFICATE-----
MIIBfDCCASGgAwIBAgIUL9NyVp71HmoIN3rTy9kP9x0fx0IwCgYIKoZIzj0EAwIw
EjEQMA4GA1UEAwwHZnV6eiBjYTAgFw0yNjEyMDQxNzA0MjVaGA8yMTI2MTExMDE3
MDQyNVowEjEQMA4GA1UEAwwHZnV6eiBjYTBZMBMGByqGSM49AgEGCCqGSM49AwEH
A0IABFNu5dDTl3bXnViwjz18YvhuyHd+iJrmPyp8Vw+lVoJEDZkJvHXR4eDGoJqQ
nHB/aAzWdDqyyK2cclUzSN+rEmWjUzBRMB0GA1UdDgQWBBSbyeI8sYgIZw+gmJdk
hURKfqXOuTAfBgNVHSMEGDAWgBSbyeI8sYgIZw+gmJdkhURKfqXOuTAPBgNVHRMB
Af8EBTADAQH/MAoGCCqGSM49BAMCA0kAMEYCIQDixGaxfVnjAIOwRmnR7C2PZr1B
bF1lFOX2aumHk09j0gIhAPzfRYuLs521BMfv5VQPvGNOT8O13pYOyGp0BpxUyMSs
-----END CERTIFICATE-----
)";
constexpr char kLeaf[] = R"(-----BEGIN CERTIFICATE-----
MIIBEjCBugICEjQwCgYIKoZIzj0EAwIwEjEQMA4GA1UEAwwHZnV6eiBjYTAgFw0y
NjEyMDQxNzA0MjZaGA8yMTI2MTExMDE3MDQyNlowFzEVMBMGA1UEAwwMc2hvcC5l
eGFtcGxlMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEzQ3oFhzBqNPh5TlCVusP
DDGqNlmhlQerg2SgWJx6NdZLBPqtfa/JQaS+IPd+QKJrZL8CWJ1vZ36b8Kup3IA4
9DAKBggqhkjOPQQDAgNHADBEAiBodEIk7qlFv4g4kGuZnZuejA19r1lx41rKw2ti
XusFQwIgHBCmKLRj+cVEifncCL9QTQ5+Antq707gp2OcvCYsJ1k=
-----END CERTIFICATE-----
)";

X509* FromPem(const char* pem) {
  BIO* bio = BIO_new_mem_buf(pem, -1);
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (cert == nullptr) std::abort();
  return cert;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static X509* const issuer = FromPem(kIssuer);
  static X509* const leaf = FromPem(kLeaf);
  static STACK_OF(X509)* const chain = [] {
    STACK_OF(X509)* s = sk_X509_new_null();
    sk_X509_push(s, issuer);
    return s;
  }();
  const bool revoked = certcast::probe::StapleSaysRevoked(data, static_cast<long>(size), leaf, {chain, nullptr});
  if (certcast::probe::StapleSaysRevoked(data, static_cast<long>(size), leaf, {nullptr, chain}) != revoked) std::abort();
  return 0;
}
