#include "api/token.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/event_json.h"
#include "core/time.h"
#include "gtest/gtest.h"

namespace certcast::api {
namespace {

class TokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("certcast-token-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto store = Store::Open((dir_ / "fleet.db").string());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Create(const std::string& name, ScopeSet scopes,
                     std::optional<std::string> host = std::nullopt) {
    auto secret = CreateToken(*store_, key_, {name, scopes, host}, now_);
    EXPECT_TRUE(secret.ok()) << secret.status();
    return secret.ok() ? *secret : "";
  }

  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
  TokenKey key_ = TokenKey::FromBytes(std::string(32, 'k'));
  absl::Time now_ = absl::FromUnixSeconds(1796000000);
};

TEST(ScopesTest, ParsesTheSpecsScopesAndRefusesTheRest) {
  struct Case {
    std::string text;
    std::optional<ScopeSet> want;
    std::string error;
  } cases[] = {
      {"ingest", Bit(Scope::kIngest), ""},
      {"read,plan", Bit(Scope::kRead) | Bit(Scope::kPlan), ""},
      {"ingest,read,plan,act,admin,agent", 0x3f, ""},
      {"read, act", Bit(Scope::kRead) | Bit(Scope::kAct), ""},
      {"write", std::nullopt,
       "unknown scope \"write\" (known: ingest, read, plan, act, admin, agent)"},
      {"Read", std::nullopt,
       "unknown scope \"Read\" (known: ingest, read, plan, act, admin, agent)"},
      {"", std::nullopt, "empty scope in \"\" (known: ingest, read, plan, act, admin, agent)"},
      {"read,", std::nullopt,
       "empty scope in \"read,\" (known: ingest, read, plan, act, admin, agent)"},
      {"read,read", std::nullopt, "scope \"read\" given twice"},
  };
  for (const Case& c : cases) {
    auto got = ParseScopes(c.text);
    if (c.want) {
      ASSERT_TRUE(got.ok()) << c.text << ": " << got.status();
      EXPECT_EQ(*got, *c.want) << c.text;
    } else {
      ASSERT_FALSE(got.ok()) << c.text;
      EXPECT_EQ(got.status().message(), c.error);
    }
  }
  EXPECT_EQ(ScopeNames(Bit(Scope::kAgent) | Bit(Scope::kIngest)),
            (std::vector<std::string>{"ingest", "agent"}));
}

TEST_F(TokenTest, KeyFileIsCreatedPrivateAndReadBack) {
  const std::string path = (dir_ / "key").string();
  auto missing = TokenKey::Load(path, /*create=*/false);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);

  auto created = TokenKey::Load(path, /*create=*/true);
  ASSERT_TRUE(created.ok()) << created.status();
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(std::filesystem::file_size(path), 32u);
  auto again = TokenKey::Load(path, /*create=*/true);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(created->Hash("x"), again->Hash("x"));  // the same key, not a new one

  ::chmod(path.c_str(), 0644);
  auto open = TokenKey::Load(path, false);
  ASSERT_FALSE(open.ok());
  EXPECT_EQ(open.status().message(),
            path + ": token key is readable or writable by others (mode 644); run chmod 600 " + path);

  const std::string short_key = (dir_ / "short").string();
  std::ofstream(short_key) << "0123456789";
  ::chmod(short_key.c_str(), 0600);
  auto bad = TokenKey::Load(short_key, true);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), short_key + ": token key must be 32 bytes, found 10");
}

TEST_F(TokenTest, HashIsKeyedHmacSha256) {
  // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
  const TokenKey jefe = TokenKey::FromBytes("Jefe");
  const std::string mac = jefe.Hash("what do ya want for nothing?");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : mac) {
    hex.push_back(kHex[c >> 4]);
    hex.push_back(kHex[c & 15]);
  }
  EXPECT_EQ(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_NE(key_.Hash("a"), TokenKey::FromBytes(std::string(32, 'j')).Hash("a"));
}

TEST_F(TokenTest, SecretHasItsFormatAndOnlyItsHashIsStored) {
  const std::string secret = Create("ci", Bit(Scope::kIngest) | Bit(Scope::kRead));
  ASSERT_EQ(secret.size(), 3u + 16 + 1 + 64);
  EXPECT_EQ(secret.substr(0, 3), "cc_");
  auto id = SecretId(secret);
  ASSERT_TRUE(id.ok());
  auto record = store_->FindToken(*id);
  ASSERT_TRUE(record.ok() && record->has_value());
  EXPECT_EQ((*record)->name, "ci");
  EXPECT_EQ((*record)->scopes, (std::vector<std::string>{"ingest", "read"}));
  EXPECT_EQ((*record)->hash, key_.Hash(secret));
  EXPECT_EQ((*record)->hash.find(secret.substr(20)), std::string::npos);
  EXPECT_EQ((*record)->created, now_);
  // Two tokens never share a secret.
  EXPECT_NE(Create("ci2", Bit(Scope::kRead)), secret);
}

TEST_F(TokenTest, CreateRefusesBadRequests) {
  struct Case {
    NewToken request;
    std::string error;
  } cases[] = {
      {{"", Bit(Scope::kRead), {}}, "token name \"\": use 1 to 64 letters, digits, '.', '_' or '-'"},
      {{"a b", Bit(Scope::kRead), {}},
       "token name \"a b\": use 1 to 64 letters, digits, '.', '_' or '-'"},
      {{std::string(65, 'a'), Bit(Scope::kRead), {}},
       "token name \"" + std::string(65, 'a') + "\": use 1 to 64 letters, digits, '.', '_' or '-'"},
      {{"x", 0, {}}, "a token needs at least one scope"},
      {{"agent1", Bit(Scope::kAgent), {}},
       "scope agent needs --host (the host whose events the agent sends)"},
      {{"agent1", Bit(Scope::kAgent), std::string("web 1")},
       "host \"web 1\": use 1 to 253 letters, digits, '.', '-' or '_'"},
  };
  for (const Case& c : cases) {
    auto got = CreateToken(*store_, key_, c.request, now_);
    ASSERT_FALSE(got.ok()) << c.request.name;
    EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(got.status().message(), c.error);
  }
  Create("ci", Bit(Scope::kRead));
  auto duplicate = CreateToken(*store_, key_, {"ci", Bit(Scope::kAdmin), {}}, now_);
  ASSERT_FALSE(duplicate.ok());
  EXPECT_EQ(duplicate.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(duplicate.status().message(),
            "a token named \"ci\" exists; revoke it first or choose another name");
}

TEST_F(TokenTest, AuthenticateChecksSecretAndRevocation) {
  Authenticator auth(key_);
  const std::string secret = Create("web1-agent", Bit(Scope::kAgent), "web1");
  auto who = auth.Authenticate(*store_, "Bearer " + secret, now_);
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->name, "web1-agent");
  EXPECT_EQ(who->host, "web1");
  EXPECT_TRUE(who->Has(Bit(Scope::kAgent) | Bit(Scope::kIngest)));
  EXPECT_FALSE(who->Has(Bit(Scope::kRead)));

  std::string wrong = secret;
  wrong.back() = wrong.back() == '0' ? '1' : '0';  // same id, other secret
  std::string unknown_id = secret;
  unknown_id[3] = unknown_id[3] == '0' ? '1' : '0';
  struct Case {
    std::string header;
    std::string error;
  } cases[] = {
      {"", "missing Authorization header (expected: Bearer <token>)"},
      {"Basic dXNlcjpwYXNz", "Authorization header is not \"Bearer <token>\""},
      {"Bearer ", "Authorization header is not \"Bearer <token>\""},
      {"Bearer nope",
       "malformed token (expected cc_<id>_<secret> as printed by `certcast token create`)"},
      {"Bearer " + secret.substr(0, secret.size() - 1) + "G",
       "malformed token (expected cc_<id>_<secret> as printed by `certcast token create`)"},
      {"Bearer " + wrong, "unknown token"},
      {"Bearer " + unknown_id, "unknown token"},
  };
  for (const Case& c : cases) {
    auto got = auth.Authenticate(*store_, c.header, now_);
    ASSERT_FALSE(got.ok()) << c.header;
    EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(got.status().message(), c.error);
    EXPECT_EQ(got.status().message().find(secret.substr(20)), std::string::npos);
  }

  ASSERT_TRUE(store_->RevokeToken("web1-agent", now_ + absl::Seconds(1)).ok());
  auto revoked = auth.Authenticate(*store_, "Bearer " + secret, now_ + absl::Seconds(2));
  ASSERT_FALSE(revoked.ok());
  EXPECT_EQ(revoked.status().message(), "token \"web1-agent\" is revoked");
  Status again = store_->RevokeToken("web1-agent", now_);
  EXPECT_EQ(again.code(), StatusCode::kNotFound);
  EXPECT_EQ(again.message(), "no token named \"web1-agent\" in force (see `certcast token list`)");
  // The name is free again; the old secret stays revoked.
  const std::string renewed = Create("web1-agent", Bit(Scope::kAgent), "web1");
  EXPECT_TRUE(auth.Authenticate(*store_, "Bearer " + renewed, now_).ok());
  EXPECT_FALSE(auth.Authenticate(*store_, "Bearer " + secret, now_).ok());
}

TEST_F(TokenTest, LastUseIsWrittenOnFlushOnlyAndNeverMovesBack) {
  Authenticator auth(key_);
  const std::string secret = Create("reader", Bit(Scope::kRead));
  ASSERT_TRUE(auth.Authenticate(*store_, "Bearer " + secret, now_ + absl::Minutes(2)).ok());
  ASSERT_TRUE(auth.Authenticate(*store_, "Bearer " + secret, now_ + absl::Minutes(1)).ok());
  auto before = store_->ListTokens();
  ASSERT_TRUE(before.ok());
  EXPECT_FALSE((*before)[0].last_used.has_value());  // no write per request
  ASSERT_TRUE(auth.FlushLastUsed(*store_).ok());
  auto after = store_->ListTokens();
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ((*after)[0].last_used, now_ + absl::Minutes(2));
  // An older time flushed later (another server) does not move it back.
  ASSERT_TRUE(store_->TouchTokens(std::vector<std::pair<std::string, absl::Time>>{
                  {(*after)[0].id, now_}}).ok());
  EXPECT_EQ((*store_->ListTokens())[0].last_used, now_ + absl::Minutes(2));
}

TEST(EventHostTest, NamesTheHostOfHostEventsOnly) {
  struct Case {
    std::string line;
    std::optional<std::string> host;
  } cases[] = {
      {R"({"ts":"2026-11-01T00:00:00Z","type":"config","cert":"shop","host":"web1","names":["shop.example.com"],"client":"certbot","ca":"https://acme.example/dir","challenge":"http-01","ari":false})",
       "web1"},
      {R"({"ts":"2026-11-01T00:00:00Z","type":"clock","host":"web2","offset_ms":1.5})", "web2"},
      {R"({"ts":"2026-11-01T00:00:00Z","type":"host","host":"web3"})", "web3"},
      {R"({"ts":"2026-11-01T00:00:00Z","type":"deploy","cert":"shop","host":"web4","outcome":"success"})",
       "web4"},
      {R"({"ts":"2026-11-01T00:00:00Z","type":"credential","kind":"eab","host":"web5"})", "web5"},
      {R"({"ts":"2026-11-01T00:00:00Z","type":"credential","kind":"eab"})", std::nullopt},
      {R"({"ts":"2026-11-02T00:00:00Z","type":"dns","name":"shop.example.com","rtype":"A","rcode":"NOERROR","values":["203.0.113.9"]})",
       std::nullopt},
  };
  for (const Case& c : cases) {
    auto event = ParseEventLine(c.line);
    ASSERT_TRUE(event.ok()) << c.line << ": " << event.status();
    auto host = EventHost(*event);
    EXPECT_EQ(host.has_value(), c.host.has_value()) << c.line;
    if (host && c.host) EXPECT_EQ(*host, *c.host);
  }
}

}  // namespace
}  // namespace certcast::api
