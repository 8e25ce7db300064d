#include "api/server.h"

#include <set>

#include "core/strings.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace certcast::api {
namespace {

Handler Noop() {
  return [](Request&, Response&) {};
}

TEST(RouterTest, AddRefusesRoutesWithoutScopeOrTwice) {
  Router router;
  ASSERT_TRUE(router.Add({"GET", "/v1/lineages", Bit(Scope::kRead), Noop()}).ok());
  struct Case {
    Route route;
    std::string error;
  } cases[] = {
      {{"GET", "/v1/lineages", Bit(Scope::kRead), Noop()}, "route GET /v1/lineages added twice"},
      {{"GET", "/v1/secrets", 0, Noop()}, "route GET /v1/secrets: routes under /v1/ need a scope"},
      {{"BREW", "/coffee", 0, Noop()}, "route /coffee: unknown method BREW"},
      {{"GET", "healthz", 0, Noop()}, "route \"healthz\": path must start with /"},
      {{"GET", "/x", 0, nullptr}, "route GET /x: no handler"},
  };
  for (Case& c : cases) {
    Status s = router.Add(c.route);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(s.message(), c.error);
  }
}

TEST(RouterTest, FindsParametersPrefersLiteralsAndListsAllowedMethods) {
  Router router;
  ASSERT_TRUE(router.Add({"GET", "/v1/lineages", Bit(Scope::kRead), Noop()}).ok());
  ASSERT_TRUE(router.Add({"GET", "/v1/lineages/{cert}", Bit(Scope::kRead), Noop()}).ok());
  ASSERT_TRUE(router.Add({"GET", "/v1/lineages/summary", Bit(Scope::kRead), Noop()}).ok());
  ASSERT_TRUE(router.Add({"POST", "/v1/lineages/{cert}/plan", Bit(Scope::kPlan), Noop()}).ok());
  ASSERT_TRUE(router.Add({"DELETE", "/v1/lineages/{cert}", Bit(Scope::kAdmin), Noop()}).ok());

  auto m = router.Find("GET", "/v1/lineages/shop");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->path, "/v1/lineages/{cert}");
  EXPECT_EQ(m.params.at("cert"), "shop");

  m = router.Find("GET", "/v1/lineages/summary");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->path, "/v1/lineages/summary");

  m = router.Find("HEAD", "/v1/lineages");
  ASSERT_NE(m.route, nullptr);

  m = router.Find("PUT", "/v1/lineages/shop");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_EQ(m.allowed, (std::vector<std::string>{"GET", "DELETE"}));

  for (const char* path : {"/v1/lineages/", "/v1/lineages/shop/plan/x", "/v2/lineages", "",
                           "/v1//shop"}) {
    m = router.Find("GET", path);
    EXPECT_EQ(m.route, nullptr) << path;
    EXPECT_TRUE(m.allowed.empty()) << path;
  }
}

TEST(ServerConfigTest, ReadsSettingsAndNamesBadKeys) {
  ServerOptions o;
  ASSERT_TRUE(ParseServerConfig(R"(
db = "/var/lib/certcast/fleet.db"
listen = "0.0.0.0:8443"
threads = 8
max_body_bytes = 1048576
read_timeout = "3s"
access_log = false
header_timeout = "30s"
max_connections_per_client = 8
)",
                                o)
                  .ok());
  EXPECT_EQ(o.db, "/var/lib/certcast/fleet.db");
  EXPECT_EQ(o.listen, "0.0.0.0:8443");
  EXPECT_EQ(o.threads, 8);
  EXPECT_EQ(o.max_body_bytes, 1048576);
  EXPECT_EQ(o.read_timeout, absl::Seconds(3));
  EXPECT_FALSE(o.access_log);
  EXPECT_EQ(o.header_timeout, absl::Seconds(30));
  EXPECT_EQ(o.max_connections_per_client, 8);
  EXPECT_EQ(o.write_timeout, ServerOptions().write_timeout);  // absent keeps the default

  ServerOptions probes;
  ASSERT_TRUE(ParseServerConfig("probe = true\nprobe_interval = \"10m\"\nprobe_public_ports = [443, 8443]\n"
                                "probe_local_ports = [8443]\nprobe_ca_file = \"/etc/ca.pem\"\n",
                                probes)
                  .ok());
  EXPECT_TRUE(probes.probe);
  EXPECT_EQ(probes.probe_interval, absl::Minutes(10));
  EXPECT_EQ(probes.probe_public_ports, (std::vector<int>{443, 8443}));
  EXPECT_EQ(probes.probe_local_ports, (std::vector<int>{8443}));
  EXPECT_EQ(probes.probe_ca_file, "/etc/ca.pem");
  EXPECT_EQ(probes.probe_max_targets, 500);

  struct Case {
    std::string text;
    std::string error;
  } cases[] = {
      {"listn = \"x\"", "listn: unknown key"},
      {"threads = \"8\"", "threads: expected an integer"},
      {"threads = 0", "threads: 1 to 4096"},
      {"read_timeout = 3", "read_timeout: expected a duration string like \"36h\""},
      {"write_timeout = \"0s\"", "write_timeout: at least 1s"},
      {"max_body_bytes = 10", "max_body_bytes: at least 1024"},
      {"db = ", "line 1: "},
      {"probe = \"yes\"", "probe: expected true or false"},
      {"probe_public_ports = 443", "probe_public_ports: expected an array of integers"},
      {"probe_local_ports = [443, \"8443\"]", "probe_local_ports: expected an array of integers"},
      {"probe_local_ports = [0]", "probe_local_ports: 0 is not a port (1 to 65535)"},
      {"probe_public_ports = [70000]", "probe_public_ports: 70000 is not a port (1 to 65535)"},
      {"probe_max_targets = 0", "probe_max_targets: 1 to 100000"},
      {"probe_timeout = \"20m\"", "probe_timeout: 1s to 10m"},
      {"probe_interval = \"0s\"", "probe_interval: at least 1s"},
      {"header_timeout = \"5s\"", "header_timeout: must be longer than keep_alive_timeout (5s)"},
      {"max_connections_per_client = 0", "max_connections_per_client: at least 1"},
  };
  for (const Case& c : cases) {
    ServerOptions options;
    Status s = ParseServerConfig(c.text, options);
    ASSERT_FALSE(s.ok()) << c.text;
    EXPECT_EQ(s.message().substr(0, c.error.size()), c.error) << s.message();
  }
}

TEST(ResponseTest, ErrorsHaveOneShape) {
  Response r;
  r.Error(NotFoundError("no lineage \"shop\""));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, R"({"error":{"code":"not_found","message":"no lineage \"shop\""}})");
  r.Error(UnavailableError("store busy"));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(nlohmann::json::parse(r.body)["error"]["code"], "unavailable");
  r.Error(InvalidArgumentError("bad limit"));
  EXPECT_EQ(r.status, 400);
  r.Error(AlreadyExistsError("x"));
  EXPECT_EQ(r.status, 409);
  r.Error(InternalError("x"));
  EXPECT_EQ(r.status, 500);
}

// Every registered route is in the OpenAPI document with the same method, path template and
// scopes (x-certcast-scopes, which tests/integration/serve_api_test.sh reads to pick the tokens
// for its 401/403 checks), and every operation of the document is a registered route.
TEST(OpenApiTest, DocumentAndRoutesMatch) {
  auto doc = nlohmann::json::parse(OpenApiDocument());
  EXPECT_EQ(doc["openapi"], "3.1.0");
  std::set<std::string> documented;
  for (auto& [path, item] : doc["paths"].items()) {
    for (auto& [method, operation] : item.items()) {
      std::string upper;
      for (char c : method) upper.push_back(static_cast<char>(std::toupper(c)));
      ASSERT_TRUE(operation.contains("x-certcast-scopes")) << upper << " " << path;
      std::vector<std::string> scopes = operation["x-certcast-scopes"];
      documented.insert(upper + " " + path + " " + StrJoin(scopes, ","));
      // Routes under /v1/ document their 401 and 403.
      if (path.rfind("/v1/", 0) == 0) {
        EXPECT_TRUE(operation["responses"].contains("401")) << upper << " " << path;
        EXPECT_TRUE(operation["responses"].contains("403")) << upper << " " << path;
      }
    }
  }
  Router router;
  ServerContext context;
  ASSERT_TRUE(RegisterRoutes(router, context).ok());
  std::set<std::string> registered;
  for (const Route& r : router.routes()) {
    registered.insert(r.method + " " + r.path + " " + StrJoin(ScopeNames(r.scopes), ","));
  }
  EXPECT_EQ(registered, documented);
  EXPECT_TRUE(registered.count("POST /v1/events ingest,agent"));
  EXPECT_TRUE(registered.count("GET /healthz "));
}

}  // namespace
}  // namespace certcast::api
