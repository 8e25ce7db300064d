// API tokens: scopes, secrets, their keyed hashes and the check a request goes through.
//
// A secret is `cc_<id>_<key>`: `id` is 16 hex digits (8 random bytes) that find the token's row
// without a scan, `key` is 64 hex digits (32 bytes from the OS CSPRNG, OpenSSL RAND_bytes). The
// store keeps only HMAC-SHA256(token key, whole secret), where the token key is 32 random bytes in
// a file outside the store (0600; docs/api.md, decided in docs/decisions.md 2026-12-04). Hashes
// are compared in constant time (CRYPTO_memcmp).
//
// Thread safety: TokenKey and the free functions are immutable/pure; Authenticator is safe to
// share between threads (its last-use table is locked), each caller passing its own Store.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/event.h"
#include "core/status.h"
#include "store/store.h"

namespace certcast::api {

// Scopes exactly as the fleet contract names them (docs/api.md, "Tokens"). A set is a bit mask.
enum class Scope : uint8_t { kIngest, kRead, kPlan, kAct, kAdmin, kAgent };
inline constexpr int kScopeCount = 6;
using ScopeSet = uint32_t;
inline constexpr ScopeSet Bit(Scope s) { return ScopeSet{1} << static_cast<int>(s); }

std::string_view ToString(Scope scope);
// "ingest,read" -> the set. InvalidArgument naming the unknown scope and the known ones; empty
// lists and repeated scopes are errors too.
StatusOr<ScopeSet> ParseScopes(std::string_view comma_separated);
std::vector<std::string> ScopeNames(ScopeSet scopes);  // in the spec's order

// The server's HMAC key, 32 bytes.
class TokenKey {
 public:
  // Reads the key file; when it does not exist and `create` is set, writes a new random key with
  // mode 0600 (the directory must exist). Refuses a file that group or others can read or write,
  // and one that is not exactly 32 bytes, naming the file.
  static StatusOr<TokenKey> Load(const std::string& path, bool create);
  static TokenKey FromBytes(std::string bytes) { return TokenKey(std::move(bytes)); }

  // HMAC-SHA256 of `secret` under this key (32 bytes, binary).
  std::string Hash(std::string_view secret) const;

 private:
  explicit TokenKey(std::string bytes) : bytes_(std::move(bytes)) {}
  std::string bytes_;
};

// The default key file for a store: beside a SQLite file (`fleet.db` -> `fleet.db.token-key`).
std::string DefaultTokenKeyPath(const std::string& db);

// Splits a secret into its id; InvalidArgument when it is not of the form above.
StatusOr<std::string> SecretId(std::string_view secret);

struct NewToken {
  std::string name;
  ScopeSet scopes = 0;
  std::optional<std::string> host;
};

// Validates `request` (name: 1-64 of [A-Za-z0-9._-]; at least one scope; `agent` needs a host;
// a host is 1-253 of [A-Za-z0-9.-_]), makes a secret, stores its hash and returns the secret.
StatusOr<std::string> CreateToken(Store& store, const TokenKey& key, const NewToken& request,
                                  absl::Time now);

// Who made a request: a token in force, checked.
struct Principal {
  std::string id;
  std::string name;
  ScopeSet scopes = 0;
  std::optional<std::string> host;
  bool Has(ScopeSet any_of) const { return (scopes & any_of) != 0; }
};

// The host an event is about for host binding: `host` of config, deploy, clock, host and
// credential events; nullopt for events that name no host (probes, DNS, CA, ARI, domain, issued,
// renewal), which a bound token may post.
std::optional<std::string_view> EventHost(const Event& event);

// Checks bearer secrets against the store and remembers when each token was last used, to be
// written by FlushLastUsed in one transaction (a write per request would serialise every reader
// behind SQLite's writer lock).
class Authenticator {
 public:
  explicit Authenticator(TokenKey key) : key_(std::move(key)) {}

  // The principal for `authorization` (the whole header value, "Bearer SECRET"). Refusals (to
  // be answered 401) come back as InvalidArgument: missing header, not Bearer, malformed secret,
  // unknown id, wrong secret, revoked token. Store failures keep their code (Unavailable,
  // Internal, ...). No message contains the secret.
  StatusOr<Principal> Authenticate(Store& store, std::string_view authorization, absl::Time now);

  // Writes the remembered last-use times; kept for the next flush when the store fails.
  Status FlushLastUsed(Store& store);

 private:
  TokenKey key_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, absl::Time> last_used_ ABSL_GUARDED_BY(mu_);
};

}  // namespace certcast::api
