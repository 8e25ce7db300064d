// Fuzzes what `certcast serve` reads from outside before a handler runs (src/api): its TOML
// config (ParseServerConfig), the bearer secret (SecretId), scope lists (ParseScopes, from
// `token create --scope` and the store) and request paths against the real route table
// (Router::Find). The first byte picks the reader. Errors are fine; crashes, hangs, and answers
// that contradict themselves are not.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "api/server.h"
#include "api/token.h"
#include "core/strings.h"

namespace {

const certcast::api::Router& Routes() {
  static certcast::api::ServerContext* context = new certcast::api::ServerContext();
  static certcast::api::Router* router = [] {
    auto* r = new certcast::api::Router();
    if (!certcast::api::RegisterRoutes(*r, *context).ok()) std::abort();
    return r;
  }();
  return *router;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  using namespace certcast::api;
  switch (data[0] % 4) {
    case 0: {
      ServerOptions options;
      (void)ParseServerConfig(text, options);
      break;
    }
    case 1: {
      auto id = SecretId(text);
      if (id.ok() && (id->size() != 16 || text.substr(3, 16) != *id)) std::abort();
      break;
    }
    case 2: {
      auto scopes = ParseScopes(text);
      if (scopes.ok()) {
        // The names of a parsed set parse back to the same set.
        auto again = ParseScopes(certcast::StrJoin(ScopeNames(*scopes), ","));
        if (!again.ok() || *again != *scopes) std::abort();
      }
      break;
    }
    case 3: {
      static constexpr std::string_view kMethods[] = {"GET", "POST", "PUT", "DELETE", "HEAD"};
      const size_t cut = text.find(' ');
      const std::string_view method = kMethods[text.size() % 5];
      const std::string_view path = cut == std::string_view::npos ? text : text.substr(cut + 1);
      auto match = Routes().Find(method, path);
      // A match has no alternatives listed; a miss lists only methods other than the one asked.
      if (match.route && !match.allowed.empty()) std::abort();
      for (const std::string& m : match.allowed) {
        if (m == method) std::abort();
      }
      break;
    }
  }
  return 0;
}
