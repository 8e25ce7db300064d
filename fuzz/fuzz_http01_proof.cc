// Fuzzes the server's reader of POST /v1/agent/http01-proof bodies (api::ParseHttp01ProofRequest):
// an agent's request is outside data to the server, and what it accepts names the URL the server
// fetches. No crash on any bytes; an accepted request has a base64url token (no '/', no "..": the
// path stays /.well-known/acme-challenge/TOKEN), a printable body and no wildcard name, and
// written back by the agent's writer it parses again to the same request.
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "api/http01_proof.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto request = certcast::api::ParseHttp01ProofRequest(text);
  if (!request.ok()) return 0;
  if (request->token.size() < 16 || request->token.size() > 128) std::abort();
  for (char c : request->token) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') std::abort();
  }
  if (request->body.empty() || request->body.size() > 512) std::abort();
  for (char c : request->body) {
    if (c < 0x21 || c > 0x7e) std::abort();
  }
  if (request->name.empty() || request->name.starts_with("*.") || request->name.find('/') != std::string::npos) {
    std::abort();
  }
  auto again = certcast::api::ParseHttp01ProofRequest(certcast::api::Http01ProofRequestJson(*request));
  if (!again.ok() || !(*again == *request)) std::abort();
  return 0;
}
