// certcast token: API tokens for `certcast serve` (create prints the secret once; the store keeps
// only its keyed hash).
#include <iostream>

#include "api/token.h"
#include "cli/command.h"
#include "core/clock.h"
#include "core/strings.h"
#include "core/time.h"
#include "store/store_backends.h"

namespace certcast::cli {
namespace {

struct TokenFlags {
  std::string db;
  std::string token_key;
  std::string name;
  std::string scopes;
  std::string host;
};

// A PostgreSQL store has no "beside": every server sharing it needs a copy of one key file, and
// the key must not sit in the database beside the hashes it keys.
StatusOr<std::string> KeyPath(const TokenFlags& flags) {
  if (!flags.token_key.empty()) return flags.token_key;
  if (IsPostgresUri(flags.db)) {
    return InvalidArgumentError(StrCat("--token-key FILE is required with a PostgreSQL store (",
                                       StoreDisplayName(flags.db), ")"));
  }
  return api::DefaultTokenKeyPath(flags.db);
}

int UsageError(const Status& s) {
  std::cerr << "certcast: " << s.message() << "\n";
  return kExitUsage;
}

int RunCreate(const TokenFlags& flags) {
  auto scopes = api::ParseScopes(flags.scopes);
  if (!scopes.ok()) return UsageError(scopes.status());
  api::NewToken request;
  request.name = flags.name;
  request.scopes = *scopes;
  if (!flags.host.empty()) request.host = flags.host;
  auto key_path = KeyPath(flags);
  if (!key_path.ok()) return UsageError(key_path.status());
  auto store = Store::Open(flags.db);
  if (!store.ok()) return Fail(store.status());
  auto key = api::TokenKey::Load(*key_path, /*create=*/true);
  if (!key.ok()) return Fail(key.status());
  auto secret = api::CreateToken(**store, *key, request, SystemClock::Get().Now());
  if (!secret.ok()) {
    const StatusCode code = secret.status().code();
    if (code == StatusCode::kInvalidArgument || code == StatusCode::kAlreadyExists) {
      return UsageError(secret.status());
    }
    return Fail(secret.status());
  }
  std::cout << *secret << "\n";
  return kExitOk;
}

int RunList(const TokenFlags& flags) {
  StoreOptions options;
  options.create_if_missing = false;
  auto store = Store::Open(flags.db, options);
  if (!store.ok()) return Fail(store.status());
  auto tokens = (*store)->ListTokens();
  if (!tokens.ok()) return Fail(tokens.status());
  std::cout << "name\tscopes\thost\tcreated\tlast_used\trevoked\n";
  for (const TokenRecord& t : *tokens) {
    std::cout << t.name << "\t" << StrJoin(t.scopes, ",") << "\t" << (t.host ? *t.host : "-")
              << "\t" << FormatRfc3339(t.created) << "\t"
              << (t.last_used ? FormatRfc3339(*t.last_used) : "-") << "\t"
              << (t.revoked ? FormatRfc3339(*t.revoked) : "-") << "\n";
  }
  return kExitOk;
}

int RunRevoke(const TokenFlags& flags) {
  StoreOptions options;
  options.create_if_missing = false;
  auto store = Store::Open(flags.db, options);
  if (!store.ok()) return Fail(store.status());
  Status s = (*store)->RevokeToken(flags.name, SystemClock::Get().Now());
  if (s.code() == StatusCode::kNotFound) return UsageError(s);
  if (!s.ok()) return Fail(s);
  std::cerr << "certcast: token \"" << flags.name << "\" revoked; the server refuses it from its "
            << "next request\n";
  return kExitOk;
}

const bool registered = RegisterCommand({
    .name = "token",
    .summary = "Create, list and revoke the API tokens of `certcast serve`",
    .order = 84,
    .setup =
        [](CLI::App& sub) {
          auto flags = std::make_shared<TokenFlags>();
          sub.description(
              "Tokens authenticate API clients of `certcast serve` (docs/api.md). Scopes: "
              "ingest (post events), read (everything readable), plan (ask for a plan), act "
              "(approve or carry out actions), admin (tokens, silences, models), agent (post "
              "events and pull/report actions for its --host only). The secret is printed once; "
              "the store keeps an HMAC-SHA256 of it under the key in --token-key.");
          sub.require_subcommand(1);
          auto* create = sub.add_subcommand("create", "Make a token and print its secret (one line)");
          create->add_option("--db", flags->db, "Store: SQLite file or postgresql:// URI; created when missing")
              ->required();
          create->add_option("--name", flags->name, "Unique name (letters, digits, . _ -)")
              ->required();
          create->add_option("--scope", flags->scopes,
                             "Comma-separated: ingest, read, plan, act, admin, agent")
              ->required();
          create->add_option("--host", flags->host,
                             "Bind to a host: its events only (required with agent)");
          create->add_option("--token-key", flags->token_key,
                             "HMAC key file, created 0600 when missing; required with a PostgreSQL --db")
              ->default_str("DB.token-key");

          auto* list = sub.add_subcommand("list", "Names, scopes, hosts, created, last used, "
                                                  "revoked (never secrets), tab-separated");
          list->add_option("--db", flags->db, "Store: SQLite file or postgresql:// URI")->required();

          auto* revoke = sub.add_subcommand("revoke", "Revoke a token by name (effective at the "
                                                      "server's next request)");
          revoke->add_option("--db", flags->db, "Store: SQLite file or postgresql:// URI")->required();
          revoke->add_option("name", flags->name, "Token name")->required();
          sub.footer(
              "Exit: 0 ok; 2 bad flags, unknown scope, duplicate or unknown name; 3 the store or "
              "key failed.\n\nExample:\n"
              "  certcast token create --db fleet.db --name web1-agent --scope agent --host web1\n"
              "  certcast token list --db fleet.db\n"
              "  certcast token revoke --db fleet.db web1-agent");
          return [flags, create, list, revoke] {
            if (create->parsed()) return RunCreate(*flags);
            if (list->parsed()) return RunList(*flags);
            if (revoke->parsed()) return RunRevoke(*flags);
            return kExitUsage;
          };
        },
});

}  // namespace
}  // namespace certcast::cli
