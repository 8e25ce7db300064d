#include "api/token.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "core/strings.h"

namespace certcast::api {
namespace {

constexpr size_t kKeyBytes = 32;
constexpr size_t kIdBytes = 8;
constexpr size_t kSecretBytes = 32;
constexpr std::string_view kSecretPrefix = "cc_";

constexpr std::string_view kScopeNames[kScopeCount] = {"ingest", "read", "plan",
                                                       "act",    "admin", "agent"};

std::string Hex(const unsigned char* data, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kHex[data[i] >> 4]);
    out.push_back(kHex[data[i] & 15]);
  }
  return out;
}

StatusOr<std::string> RandomBytes(size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
    return InternalError("OpenSSL RAND_bytes failed: no secure randomness available");
  }
  return raw;
}

StatusOr<std::string> RandomHex(size_t bytes) {
  ASSIGN_OR_RETURN(std::string raw, RandomBytes(bytes));
  return Hex(reinterpret_cast<const unsigned char*>(raw.data()), bytes);
}

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool AllOf(std::string_view s, std::string_view extra) {
  for (char c : s) {
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!alnum && extra.find(c) == std::string_view::npos) return false;
  }
  return true;
}

}  // namespace

std::string_view ToString(Scope scope) { return kScopeNames[static_cast<int>(scope)]; }

StatusOr<ScopeSet> ParseScopes(std::string_view text) {
  ScopeSet set = 0;
  size_t pos = 0;
  while (true) {
    size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view name = text.substr(pos, comma - pos);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    if (name.empty()) {
      return InvalidArgumentError(StrCat("empty scope in \"", text, "\" (known: ",
                                         StrJoin(kScopeNames, ", "), ")"));
    }
    int found = -1;
    for (int i = 0; i < kScopeCount; ++i) {
      if (kScopeNames[i] == name) found = i;
    }
    if (found < 0) {
      return InvalidArgumentError(StrCat("unknown scope \"", name, "\" (known: ",
                                         StrJoin(kScopeNames, ", "), ")"));
    }
    const ScopeSet bit = Bit(static_cast<Scope>(found));
    if (set & bit) return InvalidArgumentError(StrCat("scope \"", name, "\" given twice"));
    set |= bit;
    if (comma == text.size()) break;
    pos = comma + 1;
  }
  return set;
}

std::vector<std::string> ScopeNames(ScopeSet scopes) {
  std::vector<std::string> names;
  for (int i = 0; i < kScopeCount; ++i) {
    if (scopes & Bit(static_cast<Scope>(i))) names.emplace_back(kScopeNames[i]);
  }
  return names;
}

StatusOr<TokenKey> TokenKey::Load(const std::string& path, bool create) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 && errno == ENOENT && create) {
    ASSIGN_OR_RETURN(std::string bytes, RandomBytes(kKeyBytes));
    // O_EXCL: two processes creating the key at once must not end up with different keys.
    int out = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out >= 0) {
      const bool written = ::write(out, bytes.data(), bytes.size()) ==
                               static_cast<ssize_t>(bytes.size()) &&
                           ::fsync(out) == 0;
      ::close(out);
      if (!written) {
        ::unlink(path.c_str());
        return UnavailableError(StrCat(path, ": cannot write token key: ", std::strerror(errno)));
      }
      return TokenKey(std::move(bytes));
    }
    if (errno != EEXIST) {
      return UnavailableError(StrCat(path, ": cannot create token key: ", std::strerror(errno)));
    }
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  }
  if (fd < 0) {
    return errno == ENOENT
               ? NotFoundError(StrCat(path, ": no token key (it is made by `certcast token "
                                      "create`; tokens made under another key cannot be checked)"))
               : UnavailableError(StrCat(path, ": cannot read token key: ", std::strerror(errno)));
  }
  struct stat st;
  std::string bytes(kKeyBytes + 1, '\0');
  const bool stat_ok = ::fstat(fd, &st) == 0;
  const ssize_t n = ::read(fd, bytes.data(), bytes.size());
  ::close(fd);
  if (!stat_ok || n < 0) {
    return UnavailableError(StrCat(path, ": cannot read token key: ", std::strerror(errno)));
  }
  if (st.st_mode & 077) {
    return FailedPreconditionError(StrCat(path, ": token key is readable or writable by others "
                                          "(mode ", StrCat((st.st_mode >> 6) & 7, (st.st_mode >> 3) & 7,
                                          st.st_mode & 7), "); run chmod 600 ", path));
  }
  if (n != static_cast<ssize_t>(kKeyBytes)) {
    return DataLossError(StrCat(path, ": token key must be ", kKeyBytes, " bytes, found ",
                                n > static_cast<ssize_t>(kKeyBytes) ? "more" : StrCat(n)));
  }
  bytes.resize(kKeyBytes);
  return TokenKey(std::move(bytes));
}

std::string TokenKey::Hash(std::string_view secret) const {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), bytes_.data(), static_cast<int>(bytes_.size()),
       reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), digest, &length);
  return std::string(reinterpret_cast<const char*>(digest), length);
}

std::string DefaultTokenKeyPath(const std::string& db) { return db + ".token-key"; }

StatusOr<std::string> SecretId(std::string_view secret) {
  // cc_ + 16 hex + _ + 64 hex
  constexpr size_t kLength = kSecretPrefix.size() + 2 * kIdBytes + 1 + 2 * kSecretBytes;
  if (secret.size() != kLength || secret.substr(0, kSecretPrefix.size()) != kSecretPrefix ||
      secret[kSecretPrefix.size() + 2 * kIdBytes] != '_') {
    return InvalidArgumentError("malformed token (expected cc_<id>_<secret> as printed by "
                                "`certcast token create`)");
  }
  std::string_view id = secret.substr(kSecretPrefix.size(), 2 * kIdBytes);
  if (!IsLowerHex(id) || !IsLowerHex(secret.substr(kSecretPrefix.size() + 2 * kIdBytes + 1))) {
    return InvalidArgumentError("malformed token (expected cc_<id>_<secret> as printed by "
                                "`certcast token create`)");
  }
  return std::string(id);
}

StatusOr<std::string> CreateToken(Store& store, const TokenKey& key, const NewToken& request,
                                  absl::Time now) {
  if (request.name.empty() || request.name.size() > 64 || !AllOf(request.name, "._-")) {
    return InvalidArgumentError(StrCat("token name \"", request.name, "\": use 1 to 64 letters, "
                                       "digits, '.', '_' or '-'"));
  }
  if (request.scopes == 0) return InvalidArgumentError("a token needs at least one scope");
  if (request.host) {
    if (request.host->empty() || request.host->size() > 253 || !AllOf(*request.host, ".-_")) {
      return InvalidArgumentError(StrCat("host \"", *request.host, "\": use 1 to 253 letters, "
                                         "digits, '.', '-' or '_'"));
    }
  } else if (request.scopes & Bit(Scope::kAgent)) {
    return InvalidArgumentError("scope agent needs --host (the host whose events the agent sends)");
  }
  ASSIGN_OR_RETURN(std::string id, RandomHex(kIdBytes));
  ASSIGN_OR_RETURN(std::string random, RandomHex(kSecretBytes));
  std::string secret = StrCat(kSecretPrefix, id, "_", random);
  TokenRecord record;
  record.id = id;
  record.name = request.name;
  record.scopes = ScopeNames(request.scopes);
  record.host = request.host;
  record.hash = key.Hash(secret);
  record.created = now;
  RETURN_IF_ERROR(store.CreateToken(record));
  return secret;
}

std::optional<std::string_view> EventHost(const Event& event) {
  if (const auto* e = event.As<ConfigEvent>()) return std::string_view(e->host);
  if (const auto* e = event.As<DeployEvent>()) return std::string_view(e->host);
  if (const auto* e = event.As<ClockEvent>()) return std::string_view(e->host);
  if (const auto* e = event.As<HostEvent>()) return std::string_view(e->host);
  if (const auto* e = event.As<CredentialEvent>()) {
    if (e->host) return std::string_view(*e->host);
  }
  return std::nullopt;
}

StatusOr<Principal> Authenticator::Authenticate(Store& store, std::string_view authorization,
                                                 absl::Time now) {
  if (authorization.empty()) {
    return InvalidArgumentError("missing Authorization header (expected: Bearer <token>)");
  }
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() <= kBearer.size() ||
      authorization.substr(0, kBearer.size()) != kBearer) {
    return InvalidArgumentError("Authorization header is not \"Bearer <token>\"");
  }
  const std::string_view secret = authorization.substr(kBearer.size());
  ASSIGN_OR_RETURN(std::string id, SecretId(secret));
  ASSIGN_OR_RETURN(std::optional<TokenRecord> record, store.FindToken(id));
  // Hash even when the id is unknown, so the answer's timing says nothing about which ids exist.
  const std::string hash = key_.Hash(secret);
  const bool match = record && record->hash.size() == hash.size() &&
                     CRYPTO_memcmp(record->hash.data(), hash.data(), hash.size()) == 0;
  if (!match) return InvalidArgumentError("unknown token");
  if (record->revoked) return InvalidArgumentError(StrCat("token \"", record->name, "\" is revoked"));
  Principal principal;
  principal.id = record->id;
  principal.name = record->name;
  principal.host = record->host;
  for (const std::string& name : record->scopes) {
    for (int i = 0; i < kScopeCount; ++i) {
      if (kScopeNames[i] == name) principal.scopes |= Bit(static_cast<Scope>(i));
    }
  }
  {
    absl::MutexLock lock(&mu_);
    absl::Time& last = last_used_[principal.id];
    if (now > last) last = now;
  }
  return principal;
}

Status Authenticator::FlushLastUsed(Store& store) {
  std::vector<std::pair<std::string, absl::Time>> pending;
  {
    absl::MutexLock lock(&mu_);
    pending.assign(last_used_.begin(), last_used_.end());
    last_used_.clear();
  }
  Status s = store.TouchTokens(pending);
  if (!s.ok()) {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, at] : pending) {
      absl::Time& last = last_used_[id];
      if (at > last) last = at;
    }
  }
  return s;
}

}  // namespace certcast::api
