#include "collect/probe/ocsp_staple.h"

#include "collect/probe/openssl_util.h"

namespace certcast::probe {

bool StapleSaysRevoked(const unsigned char* der, long length, X509* leaf,
                       std::initializer_list<STACK_OF(X509)*> chains) {
  ossl::OcspResponse response(d2i_OCSP_RESPONSE(nullptr, &der, length));
  if (!response || OCSP_response_status(response.get()) != OCSP_RESPONSE_STATUS_SUCCESSFUL) return false;
  ossl::OcspBasic basic(OCSP_response_get1_basic(response.get()));
  if (!basic) return false;
  for (STACK_OF(X509)* chain : chains) {
    for (int i = 0; chain != nullptr && i < sk_X509_num(chain); ++i) {
      X509* issuer = sk_X509_value(chain, i);
      if (X509_check_issued(issuer, leaf) != X509_V_OK) continue;
      ossl::OcspCertId id(OCSP_cert_to_id(nullptr, leaf, issuer));
      if (!id) return false;
      int status = -1, reason = 0;
      if (OCSP_resp_find_status(basic.get(), id.get(), &status, &reason, nullptr, nullptr, nullptr) == 1) {
        return status == V_OCSP_CERTSTATUS_REVOKED;
      }
    }
  }
  return false;
}

}  // namespace certcast::probe
