// Probe targets derived from the fleet view (probe_targets.h): which host gets which targets,
// what counts as internal, the server's outside list, the wire form and its bad inputs.
#include "api/probe_targets.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace certcast::api {
namespace {

using ::testing::ElementsAre;

TEST(ProbeTargetsTest, InternalAddresses) {
  struct Row {
    const char* host;
    bool internal, loopback;
  };
  for (const Row& row : std::vector<Row>{
           {"127.0.0.1", true, true},     {"127.255.0.9", true, true},   {"::1", true, true},
           {"localhost", true, true},     {"10.1.2.3", true, false},     {"172.16.0.1", true, false},
           {"172.31.255.255", true, false}, {"172.32.0.1", false, false}, {"192.168.4.4", true, false},
           {"169.254.1.1", true, false},  {"100.64.0.1", true, false},   {"100.128.0.1", false, false},
           {"fd00::5", true, false},      {"fe80::1", true, false},      {"2001:db8::1", false, false},
           {"8.8.8.8", false, false},     {"shop.example.com", false, false}, {"", false, false},
           {"127.0.0.1.example.com", false, false}}) {
    EXPECT_EQ(IsInternalAddress(row.host), row.internal) << row.host;
    EXPECT_EQ(IsLoopbackAddress(row.host), row.loopback) << row.host;
  }
  EXPECT_EQ(EndpointHost("127.0.0.1:443"), "127.0.0.1");
  EXPECT_EQ(EndpointHost("[::1]:8443"), "::1");
  EXPECT_EQ(EndpointHost("noport"), "");
}

LineageEntry Lineage(std::string cert, std::vector<std::string> hosts, std::vector<std::string> names,
                     std::string ca = "https://acme.example/dir") {
  LineageEntry e;
  e.cert = std::move(cert);
  e.host = hosts.empty() ? "" : hosts.front();
  e.hosts = std::move(hosts);
  e.names = std::move(names);
  e.ca = std::move(ca);
  return e;
}

ServedEndpoint Served(std::string endpoint, std::string host) {
  ServedEndpoint s;
  s.endpoint = std::move(endpoint);
  s.host = std::move(host);
  return s;
}

// "endpoint/sni/cert[/guessed]" or "ca/URL": short and complete for comparisons.
std::vector<std::string> Show(const ProbeTargetList& list) {
  std::vector<std::string> out;
  for (const ProbeTarget& t : list.targets) {
    out.push_back(t.kind == ProbeTarget::Kind::kCa ? "ca/" + t.directory
                                                   : t.endpoint + "/" + t.sni + "/" + t.cert + (t.guessed ? "/guessed" : ""));
  }
  return out;
}

FleetSnapshot Fleet() {
  FleetSnapshot s;
  LineageEntry shop = Lineage("shop", {"web1"}, {"shop.example.com", "*.shop.example.com"});
  shop.served = {Served("10.0.0.5:443", "web1"), Served("127.0.0.1:8443", ""), Served("203.0.113.7:443", "web1")};
  s.lineages.push_back(shop);
  LineageEntry api = Lineage("api", {"web1", "web2"}, {"api.example.com"}, "https://other.example/dir");
  api.served = {Served("127.0.0.1:9443", "web2"), Served("127.0.0.1:443", "")};
  s.lineages.push_back(api);
  s.lineages.push_back(Lineage("mail", {"web3"}, {"mail.example.com"}, "not a url"));
  return s;
}

TEST(ProbeTargetsTest, AgentGetsOnlyItsHostsTargetsFromInside) {
  const FleetSnapshot fleet = Fleet();
  ProbeTargetOptions options;
  options.local_ports = {443, 8443};
  // shop: its names (the wildcard is probed as its base name: one SNI) at each local port, guessed, except
  // 127.0.0.1:8443, also seen serving shop (web1 is its only host); 10.0.0.5 is internal;
  // 203.0.113.7 is public (the server's to probe). api: web1 is one of two hosts, so a loopback
  // endpoint whose host is unknown or web2 is not web1's; but the guesses at 127.0.0.1 are.
  EXPECT_THAT(Show(AgentProbeTargets(fleet, "web1", options)),
              ElementsAre("10.0.0.5:443/shop.example.com/shop", "127.0.0.1:443/api.example.com/api/guessed",
                          "127.0.0.1:443/shop.example.com/shop/guessed", "127.0.0.1:8443/api.example.com/api/guessed",
                          "127.0.0.1:8443/shop.example.com/shop", "ca/https://acme.example/dir",
                          "ca/https://other.example/dir"));
}

TEST(ProbeTargetsTest, AgentTargetsAreDeduplicatedAndCut) {
  FleetSnapshot fleet;
  fleet.lineages.push_back(Lineage("a", {"h"}, {"a.test", "*.a.test"}));
  ProbeTargetOptions options;
  // "a.test" and "*.a.test" are the same SNI: one target.
  EXPECT_THAT(Show(AgentProbeTargets(fleet, "h", options)),
              ElementsAre("127.0.0.1:443/a.test/a/guessed", "ca/https://acme.example/dir"));
  options.max_targets = 1;
  const ProbeTargetList cut = AgentProbeTargets(fleet, "h", options);
  EXPECT_THAT(Show(cut), ElementsAre("127.0.0.1:443/a.test/a/guessed"));
  EXPECT_EQ(cut.truncated, 1u);
  EXPECT_TRUE(AgentProbeTargets(fleet, "other", options).targets.empty());
  // The CA of a lineage whose `ca` is no URL is not a target.
  FleetSnapshot bad;
  bad.lineages.push_back(Lineage("m", {"h"}, {}, "not a url"));
  EXPECT_TRUE(AgentProbeTargets(bad, "h", {}).targets.empty());
}

TEST(ProbeTargetsTest, ServerProbesNamesAndNonLoopbackEndpoints) {
  const FleetSnapshot fleet = Fleet();
  ProbeTargetOptions options;
  options.public_ports = {443};
  // Names at the public port, guessed unless seen serving; endpoints seen at non-loopback
  // addresses (10.0.0.5 too: the server may share the network); no loopback endpoint.
  EXPECT_THAT(Show(ServerProbeTargets(fleet, options)),
              ElementsAre("10.0.0.5:443/shop.example.com/shop", "203.0.113.7:443/shop.example.com/shop",
                          "api.example.com:443/api.example.com/api/guessed",
                          "mail.example.com:443/mail.example.com/mail/guessed",
                          "shop.example.com:443/shop.example.com/shop/guessed", "ca/https://acme.example/dir",
                          "ca/https://other.example/dir"));
}

TEST(ProbeTargetsTest, GuessSeenServingIsNotAGuess) {
  FleetSnapshot fleet;
  LineageEntry a = Lineage("a", {"h"}, {"a.test"});
  a.served = {Served("a.test:443", "h")};
  fleet.lineages.push_back(a);
  EXPECT_THAT(Show(ServerProbeTargets(fleet, {})), ElementsAre("a.test:443/a.test/a", "ca/https://acme.example/dir"));
}

TEST(ProbeTargetsTest, JsonRoundTrip) {
  FleetSnapshot fleet = Fleet();
  const ProbeTargetList list = AgentProbeTargets(fleet, "web1", {});
  const std::string json = ProbeTargetsJson("web1", absl::FromUnixSeconds(1796000000), list);
  auto parsed = ParseProbeTargetsJson(json, 100);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->targets, list.targets);
  EXPECT_EQ(parsed->truncated, 0u);
  // A cut here adds to the server's own count.
  auto cut = ParseProbeTargetsJson(
      R"({"targets":[{"type":"ca","directory":"https://a/d"},{"type":"ca","directory":"https://b/d"}],"truncated":3})", 1);
  ASSERT_TRUE(cut.ok()) << cut.status();
  EXPECT_EQ(cut->targets.size(), 1u);
  EXPECT_EQ(cut->truncated, 4u);
}

// "http01/ENDPOINT/NAME", "dns/NAME/RTYPE" and the TLS/CA forms of Show.
std::vector<std::string> ShowAll(const ProbeTargetList& list) {
  std::vector<std::string> out;
  for (const ProbeTarget& t : list.targets) {
    if (t.kind == ProbeTarget::Kind::kHttp01) out.push_back("http01/" + t.endpoint + "/" + t.name);
    else if (t.kind == ProbeTarget::Kind::kDns) out.push_back("dns/" + t.name + "/" + t.rtype);
    else out.push_back(Show({.targets = {t}}).front());
  }
  return out;
}

FleetSnapshot ChallengeFleet() {
  FleetSnapshot s;
  LineageEntry shop = Lineage("shop", {"web1"}, {"shop.test", "www.shop.test"});
  shop.challenge = "http-01";
  s.lineages.push_back(shop);
  LineageEntry wild = Lineage("wild", {"web1"}, {"*.wild.test", "wild.test"});
  wild.challenge = "dns-01";
  s.lineages.push_back(wild);
  LineageEntry alpn = Lineage("alpn", {"web2"}, {"alpn.test"});
  alpn.challenge = "tls-alpn-01";
  s.lineages.push_back(alpn);
  return s;
}

TEST(ProbeTargetsTest, ChallengePathTargets) {
  const FleetSnapshot fleet = ChallengeFleet();
  ProbeTargetOptions options;
  options.http01_port = 8080;
  options.local_ports = {};
  options.public_ports = {};
  // The agent: each http-01 name on its own web server (127.0.0.1), the dns-01 delegation of each
  // name (the wildcard as its base name: one name); tls-alpn-01 has no challenge-path target.
  EXPECT_THAT(ShowAll(AgentProbeTargets(fleet, "web1", options)),
              ElementsAre("ca/https://acme.example/dir", "http01/127.0.0.1:8080/shop.test",
                          "http01/127.0.0.1:8080/www.shop.test", "dns/_acme-challenge.wild.test/CNAME",
                          "dns/_acme-challenge.wild.test/NS"));
  EXPECT_THAT(ShowAll(AgentProbeTargets(fleet, "web2", options)), ElementsAre("ca/https://acme.example/dir"));
  // The server: each name where it resolves, as the CA would ask.
  EXPECT_THAT(ShowAll(ServerProbeTargets(fleet, options)),
              ElementsAre("ca/https://acme.example/dir", "http01/shop.test:8080/shop.test",
                          "http01/www.shop.test:8080/www.shop.test", "dns/_acme-challenge.wild.test/CNAME",
                          "dns/_acme-challenge.wild.test/NS"));
  // The wire form keeps them.
  const ProbeTargetList list = AgentProbeTargets(fleet, "web1", options);
  auto parsed = ParseProbeTargetsJson(ProbeTargetsJson("web1", absl::FromUnixSeconds(1796000000), list), 100);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->targets, list.targets);
}

TEST(ProbeTargetsTest, BadAnswersNameWhatIsWrong) {
  struct Row {
    const char* json;
    const char* error;
  };
  for (const Row& row : std::vector<Row>{
           {"", "probe targets: not a JSON object"},
           {"[]", "probe targets: not a JSON object"},
           {"{}", "probe targets: \"targets\" is missing or not a list"},
           {R"({"targets":{}})", "probe targets: \"targets\" is missing or not a list"},
           {R"({"targets":[],"truncated":-1})", "probe targets: \"truncated\" is not a count"},
           {R"({"targets":[1]})", "targets[0]: not an object"},
           {R"({"targets":[{"type":"udp"}]})", "targets[0]: type \"udp\" is not tls, ca, http01 or dns"},
           {R"({"targets":[{"type":"http01","name":"a.test"}]})", "targets[0]: endpoint is missing or not a string"},
           {R"({"targets":[{"type":"http01","endpoint":"127.0.0.1:80"}]})", "targets[0]: name is missing or not a string"},
           {R"({"targets":[{"type":"http01","endpoint":"127.0.0.1:80","name":"*.a.test"}]})",
            "targets[0]: name: a wildcard is not probed"},
           {R"({"targets":[{"type":"dns","name":"_acme-challenge.a.test","rtype":"TXT"}]})",
            "targets[0]: rtype \"TXT\" is not CNAME or NS"},
           {R"({"targets":[{"type":"dns","name":"_acme-challenge.a.test"}]})",
            "targets[0]: rtype is missing or not a string"},
           {R"({"targets":[{"endpoint":"a:1"}]})", "targets[0]: type is missing or not a string"},
           {R"({"targets":[{"type":"ca","directory":"https://x/d"},{"type":"tls","sni":"a"}]})",
            "targets[1]: endpoint is missing or not a string"},
           {R"({"targets":[{"type":"tls","endpoint":"a:1","sni":""}]})",
            "targets[0]: sni must be a name of 1 to 253 characters"},
           {R"({"targets":[{"type":"tls","endpoint":"a:1","sni":"a","guessed":"yes"}]})",
            "targets[0]: guessed is not true or false"},
           {R"({"targets":[{"type":"tls","endpoint":"a:1","sni":"a","cert":7}]})",
            "targets[0]: cert is missing or not a string"},
           {R"({"targets":[{"type":"ca","directory":"file:///etc/passwd"}]})",
            "targets[0]: directory: not an http(s) URL: \"file:///etc/passwd\""}}) {
    auto parsed = ParseProbeTargetsJson(row.json, 10);
    ASSERT_FALSE(parsed.ok()) << row.json;
    EXPECT_EQ(parsed.status().message(), row.error) << row.json;
  }
  // A name that is no DNS name (ValidateDnsName's reason), an http01 endpoint without a port.
  auto parsed = ParseProbeTargetsJson(R"({"targets":[{"type":"dns","name":"-x.test","rtype":"NS"}]})", 10);
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(std::string(parsed.status().message()), ::testing::StartsWith("targets[0]: name: "));
  parsed = ParseProbeTargetsJson(R"({"targets":[{"type":"http01","endpoint":"127.0.0.1","name":"a.test"}]})", 10);
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(std::string(parsed.status().message()), ::testing::StartsWith("targets[0]: endpoint: "));
  // An endpoint without a port: the probe's own endpoint error, prefixed with where.
  parsed = ParseProbeTargetsJson(R"({"targets":[{"type":"tls","endpoint":"noport","sni":"a"}]})", 10);
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(std::string(parsed.status().message()), ::testing::StartsWith("targets[0]: endpoint: "));
}

}  // namespace
}  // namespace certcast::api
