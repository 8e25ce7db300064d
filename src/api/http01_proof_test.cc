// The proof of HTTP-01 origin's pure parts (http01_proof.h): the body's reader and its bad inputs,
// which names an agent may ask about (the route answers 403 for the rest), the proof's reading of a
// probe result.
#include "api/http01_proof.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace certcast::api {
namespace {

constexpr char kToken[] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

TEST(Http01ProofTest, ReadsTheRequestAndNamesWhatIsWrong) {
  const Http01ProofRequest good{"shop.test", kToken, std::string(kToken) + ".proof"};
  auto parsed = ParseHttp01ProofRequest(Http01ProofRequestJson(good));
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(*parsed, good);
  struct Case {
    std::string json, error;
  } cases[] = {
      {"", "body: expected a JSON object {\"name\", \"token\", \"body\"}"},
      {"[1]", "body: expected a JSON object {\"name\", \"token\", \"body\"}"},
      {R"({"name":"shop.test","token":"AAAAAAAAAAAAAAAA","body":"x","path":"/etc"})",
       "path: unknown key (name, token and body only)"},
      {R"({"name":7,"token":"AAAAAAAAAAAAAAAA","body":"x"})", "name: expected a string"},
      {R"({"token":"AAAAAAAAAAAAAAAA","body":"x"})", "name: missing"},
      {R"({"name":"Shop.Test","token":"AAAAAAAAAAAAAAAA","body":"x"})", "name"},
      {R"({"name":"*.shop.test","token":"AAAAAAAAAAAAAAAA","body":"x"})", "name: a wildcard has no http-01 challenge"},
      {R"({"name":"shop.test","token":"../../etc/passwd","body":"x"})", "token: 16 to 128 base64url characters"},
      {R"({"name":"shop.test","token":"short","body":"x"})", "token: 16 to 128 base64url characters"},
      {R"({"name":"shop.test","token":"AAAAAAAAAAAAAAAA","body":""})", "body: 1 to 512 printable ASCII characters"},
      {R"({"name":"shop.test","token":"AAAAAAAAAAAAAAAA","body":"a b"})", "body: 1 to 512 printable ASCII characters"},
      {R"({"name":"shop.test","token":"AAAAAAAAAAAAAAAA","body":")" + std::string(513, 'x') + "\"}",
       "body: 1 to 512 printable ASCII characters"},
  };
  for (const Case& c : cases) {
    auto r = ParseHttp01ProofRequest(c.json);
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << c.json;
    EXPECT_EQ(r.status().message().substr(0, c.error.size()), c.error) << r.status().message();
  }
}

TEST(Http01ProofTest, AnAgentMayAskOnlyForItsOwnHostsHttp01Names) {
  FleetSnapshot fleet;
  auto lineage = [&](std::string cert, std::vector<std::string> hosts, std::vector<std::string> names,
                     std::string challenge) {
    LineageEntry e;
    e.cert = std::move(cert);
    e.host = hosts.front();
    e.hosts = std::move(hosts);
    e.names = std::move(names);
    e.challenge = std::move(challenge);
    fleet.lineages.push_back(std::move(e));
  };
  lineage("shop", {"web1"}, {"shop.test", "www.shop.test"}, "http-01");
  lineage("api", {"web2", "web1"}, {"api.test"}, "http-01");
  lineage("mail", {"web1"}, {"mail.test"}, "dns-01");
  struct Row {
    const char* host;
    const char* name;
    bool allowed;
  } rows[] = {
      {"web1", "shop.test", true},     {"web1", "www.shop.test", true}, {"web1", "api.test", true},
      {"web2", "api.test", true},      {"web2", "shop.test", false},    {"web1", "mail.test", false},
      {"web3", "shop.test", false},    {"web1", "other.test", false},   {"", "shop.test", false},
  };
  for (const Row& row : rows) {
    EXPECT_EQ(IsHostHttp01Name(fleet, row.host, row.name), row.allowed) << row.host << " " << row.name;
  }
}

TEST(Http01ProofTest, AnyOtherAnswerIsWrongContentNoAnswerStaysUnreachable) {
  struct Row {
    std::optional<Http01Error> probed, proof;
  } rows[] = {
      {std::nullopt, std::nullopt},
      {Http01Error::kHttpStatus, Http01Error::kWrongContent},
      {Http01Error::kWrongContent, Http01Error::kWrongContent},
      {Http01Error::kRefused, Http01Error::kRefused},
      {Http01Error::kTimeout, Http01Error::kTimeout},
      {Http01Error::kRedirect, Http01Error::kRedirect},
  };
  for (const Row& row : rows) {
    Http01ProbeEvent probe;
    probe.error = row.probed;
    ReadAsProof(probe);
    EXPECT_EQ(probe.error, row.proof);
  }
}

}  // namespace
}  // namespace certcast::api
