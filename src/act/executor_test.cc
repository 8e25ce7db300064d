// Executor tests with small fake clients (shell scripts that record their argv), so nothing here
// needs certbot, lego or a CA. Real clients against pebble are tested separately.
#include "act/executor.h"

#include <sys/file.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "act/config.h"
#include "act/process.h"
#include "core/event_json.h"
#include "core/strings.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace certcast::act {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/certcast-act-XXXXXX";
    path_ = ::mkdtemp(pattern);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A fake program: records each argument on its own line in DIR/argv (appending a "--" line per
// call), copies stdin to DIR/stdin, fails with a message when DIR/fail exists, sleeps when
// DIR/sleep exists.
std::string FakeProgram(const TempDir& dir, const std::string& name) {
  const std::string path = dir.path() + "/" + name;
  std::ofstream out(path);
  out << "#!/bin/sh\n"
      << "d='" << dir.path() << "'\n"
      << "for a in \"$@\"; do printf '%s\\n' \"$a\" >> \"$d/argv\"; done\n"
      << "echo -- >> \"$d/argv\"\n"
      << "cat > \"$d/stdin\"\n"
      << "if [ -f \"$d/sleep\" ]; then sleep 10; fi\n"
      << "if [ -f \"$d/fail\" ]; then echo 'some progress'; printf '  Type:   connection\\nChallenge failed: connection refused\\n' >&2; exit 1; fi\n"
      << "exit 0\n";
  out.close();
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  return path;
}

ConfigEvent Lineage(std::string cert = "shop") {
  ConfigEvent c;
  c.cert = std::move(cert);
  c.host = "web1";
  c.names = {"shop.example.com", "www.shop.example.com"};
  c.client = Client::kCertbot;
  c.ca = "https://acme.example/dir";
  c.challenge = Challenge::kHttp01;
  c.alt_challenges = {Challenge::kDns01};
  return c;
}

PlannedAction Action(ActionKind kind, std::string cert = "shop") {
  PlannedAction a;
  a.cert = std::move(cert);
  a.kind = kind;
  a.reason = "SwitchChallenge: test";
  a.risk = 0.5;
  return a;
}

struct ArgvCase {
  std::string name;
  std::string kind;
  ActionKind action;
  std::optional<Challenge> challenge;
  std::optional<std::string> ca;
  std::vector<std::string> want;
};

class ClientArgvTest : public ::testing::TestWithParam<ArgvCase> {};

TEST_P(ClientArgvTest, BuildsTheExpectedCommandLine) {
  const ArgvCase& c = GetParam();
  ClientSettings s;
  s.kind = c.kind;
  s.path = c.kind;
  s.dns_provider = c.kind == "certbot" ? "dns-cloudflare" : c.kind == "lego" ? "cloudflare" : "dns_cf";
  s.email = "ops@example.com";
  PlannedAction a = Action(c.action);
  a.challenge = c.challenge;
  a.ca = c.ca;
  auto argv = ClientArgv(s, Lineage(), a);
  ASSERT_TRUE(argv.ok()) << argv.status();
  EXPECT_EQ(*argv, c.want);
}

INSTANTIATE_TEST_SUITE_P(
    Clients, ClientArgvTest,
    ::testing::Values(
        ArgvCase{"CertbotRenewsOneLineageByName", "certbot", ActionKind::kRenew, std::nullopt, std::nullopt,
                 {"certbot", "renew", "--cert-name", "shop", "--non-interactive", "--force-renewal"}},
        ArgvCase{"CertbotSwitchesToDns01WithItsPlugin", "certbot", ActionKind::kRenew, Challenge::kDns01,
                 std::nullopt,
                 {"certbot", "renew", "--cert-name", "shop", "--non-interactive", "--force-renewal",
                  "--preferred-challenges", "dns-01", "--dns-cloudflare"}},
        ArgvCase{"CertbotSwitchesCaWithServer", "certbot", ActionKind::kRenew, std::nullopt,
                 "https://other.example/dir",
                 {"certbot", "renew", "--cert-name", "shop", "--non-interactive", "--force-renewal",
                  "--server", "https://other.example/dir"}},
        ArgvCase{"CertbotDryRunUsesStagingThroughDryRun", "certbot", ActionKind::kDryRun, std::nullopt,
                 std::nullopt,
                 {"certbot", "renew", "--cert-name", "shop", "--non-interactive", "--dry-run",
                  "--server", "https://acme-staging-v02.api.letsencrypt.org/directory"}},
        ArgvCase{"LegoRenewsEveryNameAndForcesWithDays", "lego", ActionKind::kRenew, std::nullopt,
                 std::nullopt,
                 {"lego", "--accept-tos", "--email", "ops@example.com", "--server",
                  "https://acme.example/dir", "--domains", "shop.example.com", "--domains",
                  "www.shop.example.com", "--http", "renew", "--days", "100000", "--no-random-sleep"}},
        ArgvCase{"LegoDryRunIssuesAgainstStaging", "lego", ActionKind::kDryRun, Challenge::kDns01,
                 std::nullopt,
                 {"lego", "--accept-tos", "--email", "ops@example.com", "--server",
                  "https://acme-staging-v02.api.letsencrypt.org/directory", "--domains",
                  "shop.example.com", "--domains", "www.shop.example.com", "--dns", "cloudflare", "run"}},
        ArgvCase{"AcmeShRenewsByMainNameWithANewCa", "acme.sh", ActionKind::kRenew, std::nullopt,
                 "https://other.example/dir",
                 {"acme.sh", "--renew", "-d", "shop.example.com", "--force", "--server",
                  "https://other.example/dir"}},
        ArgvCase{"AcmeShSwitchesToDns01WithItsHook", "acme.sh", ActionKind::kRenew, Challenge::kDns01,
                 std::nullopt,
                 {"acme.sh", "--renew", "-d", "shop.example.com", "--force", "--dns", "dns_cf"}}),
    [](const ::testing::TestParamInfo<ArgvCase>& info) { return info.param.name; });

TEST(TimeScaleTest, ATimeScaleDividesEveryPolicyPeriodButNotTheCycleInterval) {
  auto c = ParseDaemonConfig("interval = \"2s\"\n[policy]\ntime_scale = 3600\nreload_grace = \"10h\"\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->interval, absl::Seconds(2));
  EXPECT_EQ(c->policy.reload_grace, absl::Seconds(10));         // configured 10h
  EXPECT_EQ(c->policy.probe_persistence, absl::Seconds(12));    // default 12h
  EXPECT_EQ(c->policy.safety_net_max, absl::Seconds(7 * 24));   // default 7d
  EXPECT_EQ(c->policy.exact_set_limit, 5);                      // counts are not times
}

TEST(LineageAlternativesTest, DeclaredAlternativesAreKeptPerCertificate) {
  auto c = ParseDaemonConfig(
      "[[lineage]]\ncert = \"shop\"\nalt_challenges = [\"dns-01\"]\n"
      "alt_cas = [\"https://other.example/dir\"]\n[[lineage]]\ncert = \"blog\"\nkind = \"lego\"\n");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->alternatives.size(), 1u);  // blog declares none
  EXPECT_EQ(c->alternatives["shop"].alt_challenges, std::vector<Challenge>{Challenge::kDns01});
  EXPECT_EQ(c->alternatives["shop"].alt_cas, std::vector<std::string>{"https://other.example/dir"});
  EXPECT_EQ(c->lineages["blog"].kind, "lego");
}

TEST(ClientArgvTest, ConfiguredChallengeArgumentsReplaceThePluginFlags) {
  ClientSettings s;
  s.kind = "certbot";
  s.dns01_args = {"--manual", "--manual-auth-hook", "/lab/auth.sh"};
  PlannedAction a = Action(ActionKind::kRenew);
  a.challenge = Challenge::kDns01;
  auto argv = ClientArgv(s, Lineage(), a);
  ASSERT_TRUE(argv.ok()) << argv.status();
  EXPECT_EQ(*argv, (std::vector<std::string>{"certbot", "renew", "--cert-name", "shop",
                                             "--non-interactive", "--force-renewal",
                                             "--preferred-challenges", "dns-01", "--manual",
                                             "--manual-auth-hook", "/lab/auth.sh"}));
  // Without a switch certbot keeps the authenticator of its renewal conf.
  a.challenge.reset();
  EXPECT_EQ(ClientArgv(s, Lineage(), a)->size(), 6u);
  // lego remembers no challenge: its configured flags go on every run of that challenge.
  s.kind = "lego";
  s.http01_args = {"--http", "--http.webroot", "/srv/www"};
  argv = ClientArgv(s, Lineage(), a);
  ASSERT_TRUE(argv.ok()) << argv.status();
  EXPECT_EQ(StrJoin(*argv, " "),
            "lego --accept-tos --server https://acme.example/dir --domains shop.example.com "
            "--domains www.shop.example.com --http --http.webroot /srv/www renew --days 100000 "
            "--no-random-sleep");
}

// What certbot 2.1 and lego 4.9 printed in real failed runs against pebble (acme-lab, see
// tests/data/client-output/README.md and tests/data/client-logs/README.md).
TEST(ClassifyClientFailureTest, RealClientOutputsGiveTheAcmeProblemOrTheClientSideCode) {
  const std::pair<const char*, const char*> cases[] = {
      {"tests/data/client-output/certbot-http01-nothing-listening.out",
       "urn:ietf:params:acme:error:connection"},
      {"tests/data/client-output/certbot-dns01-txt-missing.out",
       "urn:ietf:params:acme:error:unauthorized"},
      {"tests/data/client-output/certbot-ca-down.out", "network"},
      {"tests/data/client-output/certbot-acme-server-hang.out", "timeout"},
      {"tests/data/client-output/certbot-bad-nonce.out", "urn:ietf:params:acme:error:badNonce"},
      {"tests/data/client-logs/lego-http01-nothing-listening.out",
       "urn:ietf:params:acme:error:connection"},
      {"tests/data/client-logs/lego-ca-down.out", "network"},
      {"tests/data/client-logs/lego-dns01-txt-wrong.out", "urn:ietf:params:acme:error:unauthorized"},
  };
  for (const auto& [file, want] : cases) {
    std::ifstream in(file);
    ASSERT_TRUE(in) << file;
    std::stringstream text;
    text << in.rdbuf();
    EXPECT_EQ(ClassifyClientFailure(text.str(), false), want) << file;
  }
  EXPECT_EQ(ClassifyClientFailure("", true), "timeout");
  std::ifstream in("tests/data/client-output/certbot-http01-nothing-listening.out");
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(TellingLine(text.str()),
            "Detail: Get \"http://c-http.acmelab.test:5002/.well-known/acme-challenge/"
            "WuqyzMiZIGudBBl5AyKPXKEpdBL5vuKk8l_jjScuuvs\": dial tcp 127.0.0.1:5002: connect: "
            "connection refused");
  EXPECT_EQ(ClassifyClientFailure("Segmentation fault", false), "unknown");
}

TEST(ClientArgvTest, ADns01SwitchWithoutAProviderIsRefusedWithTheSettingToAdd) {
  ClientSettings s;
  s.kind = "lego";
  PlannedAction a = Action(ActionKind::kRenew);
  a.challenge = Challenge::kDns01;
  EXPECT_EQ(ClientArgv(s, Lineage(), a).status(),
            InvalidArgumentError("shop: dns-01 with lego needs client.dns_provider (e.g. cloudflare)"));
}

class ExecutorTest : public ::testing::Test {
 protected:
  DaemonConfig Config() {
    DaemonConfig c;
    c.client.kind = "certbot";
    c.client.path = FakeProgram(dir_, "certbot");
    c.client.timeout = absl::Seconds(5);
    c.lock_dir = dir_.path() + "/locks";
    return c;
  }
  std::vector<std::string> RecordedArgv() {
    std::vector<std::string> lines;
    std::stringstream in(Read(dir_.path() + "/argv"));
    std::string line;
    while (std::getline(in, line)) lines.push_back(line);
    return lines;
  }
  void Touch(const std::string& name) { std::ofstream(dir_.path() + "/" + name) << ""; }

  TempDir dir_;
  FakeClock clock_{absl::FromUnixSeconds(1800000000)};
  std::vector<absl::Duration> slept_;
  std::function<void(absl::Duration)> sleep_ = [this](absl::Duration d) { slept_.push_back(d); };
};

TEST_F(ExecutorTest, ANameWithShellSyntaxReachesTheClientAsOneArgument) {
  Executor executor(Config(), clock_, sleep_);
  const std::string cert = "shop; touch /tmp/certcast-pwned $(id)";
  auto report = executor.Execute(Action(ActionKind::kRenew, cert), Lineage(cert));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->success) << report->detail;
  EXPECT_THAT(RecordedArgv(), ElementsAre("renew", "--cert-name", cert, "--non-interactive",
                                          "--force-renewal", "--"));
  EXPECT_FALSE(std::filesystem::exists("/tmp/certcast-pwned"));
}

TEST_F(ExecutorTest, ASuccessfulRenewalIsRecordedAsAForcedRenewalEvent) {
  DaemonConfig c = Config();
  c.allowed_cas.push_back("https://other.example/dir");
  Executor executor(c, clock_, sleep_);
  PlannedAction a = Action(ActionKind::kRenew);
  a.ca = "https://other.example/dir";
  auto report = executor.Execute(a, Lineage());
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report->events.size(), 1u);
  const auto* r = report->events[0].As<RenewalEvent>();
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->outcome, Outcome::kSuccess);
  EXPECT_EQ(r->trigger, "forced");
  EXPECT_EQ(r->ca, "https://other.example/dir");
  EXPECT_EQ(r->challenge, Challenge::kHttp01);
  EXPECT_FALSE(r->dry_run);
}

TEST_F(ExecutorTest, AFailingClientIsRecordedWithItsLastErrorLineAndNotRetried) {
  Touch("fail");
  Executor executor(Config(), clock_, sleep_);
  auto report = executor.Execute(Action(ActionKind::kDryRun), Lineage());
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->success);
  EXPECT_EQ(report->attempts, 1);
  const auto* r = report->events.at(0).As<RenewalEvent>();
  EXPECT_EQ(r->outcome, Outcome::kFailure);
  EXPECT_EQ(r->error, "urn:ietf:params:acme:error:connection");  // from certbot's "Type:" line
  EXPECT_EQ(r->detail, "exit 1: Challenge failed: connection refused");
  EXPECT_TRUE(r->dry_run);
}

TEST_F(ExecutorTest, AHangingClientIsKilledAtItsTimeoutAndRecordedAsTimeout) {
  Touch("sleep");
  DaemonConfig c = Config();
  c.client.timeout = absl::Milliseconds(300);
  Executor executor(c, clock_, sleep_);
  auto report = executor.Execute(Action(ActionKind::kRenew), Lineage());
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->success);
  EXPECT_EQ(report->events.at(0).As<RenewalEvent>()->error, "timeout");
}

TEST_F(ExecutorTest, AFailingReloadIsRetriedTwiceWithTheDocumentedWaits) {
  Touch("fail");
  DaemonConfig c = Config();
  c.reload["web1"] = CommandSettings{{FakeProgram(dir_, "reload"), "nginx"}, absl::Seconds(5)};
  Executor executor(c, clock_, sleep_);
  PlannedAction a = Action(ActionKind::kReload);
  a.host = "web1";
  auto report = executor.Execute(a, Lineage());
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->attempts, 3);
  EXPECT_THAT(slept_, ElementsAre(absl::Seconds(5), absl::Seconds(30)));
  const auto* d = report->events.at(0).As<DeployEvent>();
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->host, "web1");
  EXPECT_EQ(d->outcome, Outcome::kFailure);
}

TEST_F(ExecutorTest, ALineageLockedByAnotherRunIsSkipped) {
  DaemonConfig c = Config();
  std::filesystem::create_directories(c.lock_dir);
  const std::string lock = c.lock_dir + "/" + LockFileName("shop");
  const int fd = ::open(lock.c_str(), O_RDWR | O_CREAT, 0600);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  Executor executor(c, clock_, sleep_);
  auto report = executor.Execute(Action(ActionKind::kRenew), Lineage());
  ::close(fd);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->skipped);
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/argv"));
}

TEST_F(ExecutorTest, DryRunModeShowsTheCommandAndRunsNothing) {
  DaemonConfig c = Config();
  c.dry_run = true;
  Executor executor(c, clock_, sleep_);
  PlannedAction a = Action(ActionKind::kRenew);
  a.challenge = Challenge::kDns01;
  c.client.dns_provider = "dns-cloudflare";
  Executor with_provider(c, clock_, sleep_);
  auto report = with_provider.Execute(a, Lineage());
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->skipped);
  ASSERT_EQ(report->commands.size(), 1u);
  EXPECT_THAT(report->commands[0], ::testing::Contains("--dns-cloudflare"));
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/argv"));
}

TEST_F(ExecutorTest, AnAlertCommandGetsTheAlertAsJsonOnStdin) {
  DaemonConfig c = Config();
  c.alert.command = {FakeProgram(dir_, "page"), "--team", "web"};
  Executor executor(c, clock_, sleep_);
  PlannedAction a = Action(ActionKind::kAlert);
  a.reason = "RenewalFailing: http01_unreachable: port 80 closed";
  auto report = executor.Execute(a, Lineage(), "RenewalFailing");
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->success) << report->detail;
  const std::string body = Read(dir_.path() + "/stdin");
  EXPECT_THAT(body, HasSubstr(R"("code":"RenewalFailing","host":"web1","names":["shop.example.com","www.shop.example.com"],)"
                              R"("reason":"RenewalFailing: http01_unreachable: port 80 closed")"));
  EXPECT_THAT(RecordedArgv(), ElementsAre("--team", "web", "--"));
}

TEST_F(ExecutorTest, AnUnreachableWebhookIsRetriedFourTimesThenReported) {
  DaemonConfig c = Config();
  c.alert.webhook = "http://127.0.0.1:9/certcast";  // discard port: nothing listens
  c.alert.timeout = absl::Seconds(2);
  Executor executor(c, clock_, sleep_);
  ExecutionReport report = executor.SendAlert(Action(ActionKind::kAlert));
  EXPECT_FALSE(report.success);
  EXPECT_EQ(report.attempts, 4);
  EXPECT_THAT(slept_, ElementsAre(absl::Seconds(2), absl::Seconds(10), absl::Seconds(60)));
  EXPECT_THAT(report.detail, HasSubstr("webhook failed"));
}

// Finding 2 of issue #12: a lock directory someone else controls, or a symlink in place of a
// lock file, is refused; nothing runs and nothing is created where the symlink points.
TEST_F(ExecutorTest, ALockDirectoryWritableByOthersIsRefused) {
  DaemonConfig c = Config();
  ASSERT_EQ(::mkdir(c.lock_dir.c_str(), 0700), 0);
  ASSERT_EQ(::chmod(c.lock_dir.c_str(), 0777), 0);
  Executor executor(c, clock_, sleep_);
  auto report = executor.Execute(Action(ActionKind::kRenew), Lineage());
  EXPECT_EQ(report.status(),
            FailedPreconditionError(StrCat("lock directory ", c.lock_dir, ": mode 0777 lets group or "
                                           "others write it; refusing to use it (chmod go-w)")));
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/argv"));
}

TEST_F(ExecutorTest, ALockDirectoryOwnedByAnotherUserIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give the directory to another uid";
  DaemonConfig c = Config();
  ASSERT_EQ(::mkdir(c.lock_dir.c_str(), 0700), 0);
  ASSERT_EQ(::chown(c.lock_dir.c_str(), 65534, 65534), 0);
  Executor executor(c, clock_, sleep_);
  auto report = executor.Execute(Action(ActionKind::kRenew), Lineage());
  EXPECT_EQ(report.status(),
            FailedPreconditionError(StrCat("lock directory ", c.lock_dir,
                                           ": owned by uid 65534, not by uid 0 (this process); "
                                           "refusing to use it")));
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/argv"));
}

TEST_F(ExecutorTest, ASymlinkPlantedAsALockFileIsNotFollowed) {
  DaemonConfig c = Config();
  ASSERT_EQ(::mkdir(c.lock_dir.c_str(), 0700), 0);
  const std::string target = dir_.path() + "/etc-shadow-stand-in";
  const std::string lock = c.lock_dir + "/" + LockFileName("shop");
  ASSERT_EQ(::symlink(target.c_str(), lock.c_str()), 0);
  Executor executor(c, clock_, sleep_);
  auto report = executor.Execute(Action(ActionKind::kRenew), Lineage());
  EXPECT_EQ(report.status(), FailedPreconditionError(StrCat("lock file ", lock,
                                                            ": is a symlink; refusing to follow it")));
  EXPECT_FALSE(std::filesystem::exists(target));
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/argv"));
}

TEST_F(ExecutorTest, TheDefaultLockDirectoryIsPrivateInTheStateDirectory) {
  DaemonConfig c = Config();
  c.lock_dir.clear();
  c.db = dir_.path() + "/state/fleet.db";
  ASSERT_EQ(::mkdir((dir_.path() + "/state").c_str(), 0755), 0);
  EXPECT_EQ(LockDirectory(c), dir_.path() + "/state/locks");
  Executor executor(c, clock_, sleep_);
  auto report = executor.Execute(Action(ActionKind::kRenew), Lineage());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->success) << report->detail;
  struct stat st = {};
  ASSERT_EQ(::lstat(LockDirectory(c).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  ASSERT_EQ(::lstat((LockDirectory(c) + "/shop.lock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

// Finding 3 of issue #12: what an event says (CA, challenge, names) reaches a client only when
// the operator allowed it.
struct AllowCase {
  std::string name;
  std::function<void(DaemonConfig&, ClientSettings&, ConfigEvent&, PlannedAction&)> edit;
  Status want;
};

class CheckActionAllowedTest : public ::testing::TestWithParam<AllowCase> {};

TEST_P(CheckActionAllowedTest, AllowsOnlyWhatTheConfigurationAllows) {
  DaemonConfig config;
  ClientSettings client;  // certbot, no challenge plumbing
  ConfigEvent lineage = Lineage();
  PlannedAction action = Action(ActionKind::kRenew);
  GetParam().edit(config, client, lineage, action);
  EXPECT_EQ(CheckActionAllowed(config, client, lineage, action), GetParam().want);
}

const Status kEvilCa = FailedPreconditionError(
    "CA \"https://evil.example/dir\" is not allowed (allowed_cas, the lineage's alt_cas in "
    "[[lineage]], staging_server): not passed to a client");

INSTANTIATE_TEST_SUITE_P(
    Cases, CheckActionAllowedTest,
    ::testing::Values(
        AllowCase{"PlainRenewal", [](auto&, auto&, auto&, auto&) {}, OkStatus()},
        AllowCase{"CaSwitchFromAnEvent",
                  [](auto&, auto&, auto&, PlannedAction& a) { a.ca = "https://evil.example/dir"; },
                  kEvilCa},
        AllowCase{"CaSwitchListedInAllowedCas",
                  [](DaemonConfig& c, auto&, auto&, PlannedAction& a) {
                    a.ca = "https://evil.example/dir";
                    c.allowed_cas.push_back(*a.ca);
                  },
                  OkStatus()},
        AllowCase{"CaSwitchDeclaredForTheLineage",
                  [](DaemonConfig& c, auto&, auto&, PlannedAction& a) {
                    a.ca = "https://evil.example/dir";
                    c.alternatives["shop"].alt_cas = {*a.ca};
                  },
                  OkStatus()},
        AllowCase{"CaSwitchDeclaredForAnotherLineage",
                  [](DaemonConfig& c, auto&, auto&, PlannedAction& a) {
                    a.ca = "https://evil.example/dir";
                    c.alternatives["other"].alt_cas = {*a.ca};
                  },
                  kEvilCa},
        AllowCase{"LegoUsesTheLineageCaFromTheEvent",
                  [](auto&, ClientSettings& c, ConfigEvent& l, auto&) {
                    c.kind = "lego";
                    c.http01_args = {"--http"};
                    l.ca = "https://evil.example/dir";
                  },
                  kEvilCa},
        AllowCase{"LegoDryRunGoesToStaging",
                  [](auto&, ClientSettings& c, ConfigEvent& l, PlannedAction& a) {
                    c.kind = "lego";
                    c.http01_args = {"--http"};
                    l.ca = "https://evil.example/dir";
                    a.kind = ActionKind::kDryRun;
                  },
                  OkStatus()},
        AllowCase{"ChallengeSwitchWithoutPlumbingOrPermission",
                  [](auto&, auto&, auto&, PlannedAction& a) { a.challenge = Challenge::kTlsAlpn01; },
                  FailedPreconditionError(
                      "challenge tls-alpn-01 is not allowed (allowed_challenges, the lineage's "
                      "alt_challenges in [[lineage]], or client settings for it): not passed to a client")},
        AllowCase{"ChallengeSwitchWithADnsProvider",
                  [](auto&, ClientSettings& c, auto&, PlannedAction& a) {
                    a.challenge = Challenge::kDns01;
                    c.dns_provider = "dns-cloudflare";
                  },
                  OkStatus()},
        AllowCase{"ChallengeSwitchInAllowedChallenges",
                  [](DaemonConfig& c, auto&, auto&, PlannedAction& a) {
                    a.challenge = Challenge::kTlsAlpn01;
                    c.allowed_challenges = {Challenge::kTlsAlpn01};
                  },
                  OkStatus()},
        AllowCase{"ANameThatIsAnOption",
                  [](auto&, auto&, ConfigEvent& l, auto&) { l.names = {"--server"}; },
                  FailedPreconditionError("name \"--server\" is not a DNS name (has a label starting "
                                          "with '-'): not passed to a client")},
        AllowCase{"ACertKeyThatIsAnOption",
                  [](auto&, auto&, ConfigEvent& l, PlannedAction& a) { a.cert = l.cert = "--server=x"; },
                  FailedPreconditionError("cert \"--server=x\" starts with '-': not passed to a client")}),
    [](const auto& info) { return info.param.name; });

TEST_F(ExecutorTest, AHostileCaInAnEventBecomesAnAlertNotACommand) {
  DaemonConfig c = Config();
  c.alert.command = {FakeProgram(dir_, "page")};
  Executor executor(c, clock_, sleep_);
  PlannedAction a = Action(ActionKind::kRenew);
  a.ca = "https://evil.example/dir";
  auto report = executor.Execute(a, Lineage(), "SwitchCa");
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->refused);
  EXPECT_FALSE(report->success);
  EXPECT_TRUE(report->events.empty());
  // Only the alert command ran (its argv is empty): no client.
  EXPECT_THAT(RecordedArgv(), ElementsAre("--"));
  const std::string body = Read(dir_.path() + "/stdin");
  EXPECT_THAT(body, HasSubstr(R"("code":"ActionRefused")"));
  EXPECT_THAT(body, HasSubstr(R"(certcast refused to renew shop: CA \"https://evil.example/dir\" is not allowed)"));
  EXPECT_THAT(report->detail, HasSubstr("refused: CA \"https://evil.example/dir\" is not allowed"));
}

// Issue #12 finding 1: a localized client prints Latin-1 ("caf\xE9") and fails. The detail stored
// must be valid UTF-8 (else the row is unreadable and every later plan failed), and the event
// must read back.
TEST_F(ExecutorTest, AClientPrintingInvalidUtf8IsRecordedAsValidUtf8) {
  DaemonConfig c = Config();
  c.client.path = dir_.path() + "/latin1-certbot";
  std::ofstream(c.client.path) << "#!/bin/sh\nprintf 'Error: caf\\351\\n' >&2\nexit 1\n";
  std::filesystem::permissions(c.client.path, std::filesystem::perms::owner_all);
  Executor executor(c, clock_, sleep_);
  auto report = executor.Execute(Action(ActionKind::kRenew), Lineage());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(report->success);
  const auto* r = report->events.at(0).As<RenewalEvent>();
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->detail, "exit 1: Error: caf\xEF\xBF\xBD");
  auto back = ParseEventLine(EventToJson(report->events.at(0)));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, report->events.at(0));
}

// LastLine cuts a long line keeping its end, never inside a character.
TEST(ProcessTest, LastLineIsValidUtf8CutOnACharacterBoundary) {
  struct Case {
    std::string text;
    size_t max;
    std::string want;
  } cases[] = {
      {"first\nError: caf\xE9\n\n", 300, "Error: caf\xEF\xBF\xBD"},
      {"x\xC3\xA9t\xC3\xA9", 4, "t\xC3\xA9"},   // "été" cut to 4 bytes: "t" + "é", not half an é
      {"x\xC3\xA9t\xC3\xA9", 5, "\xC3\xA9t\xC3\xA9"},
      {"abc \xF0\x9F\x94\x92", 3, ""},           // a 4-byte character does not fit in 3
      {"  \n  ", 300, ""},
  };
  for (const auto& c : cases) EXPECT_EQ(LastLine(c.text, c.max), c.want) << c.text;
}

// Issue #12 finding 9: the run ends when the child exits, not when its pipes close.
TEST(ProcessTest, AChildWhoseBackgroundProcessHoldsThePipesIsDoneWhenItExits) {
  ProcessOptions options;
  options.timeout = absl::Seconds(3);
  // The background sleep inherits stdout and stderr and keeps them open for 20 s.
  auto r = RunProcess({"sh", "-c", "sleep 20 & echo $!; echo bye >&2; exit 0"}, options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->timed_out);
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->stderr_text, "bye\n");
  // The background process was not killed: a daemon a reload starts must live on.
  const pid_t sleeper = std::stoi(r->stdout_text);
  EXPECT_EQ(::kill(sleeper, 0), 0) << "the background process was killed";
  ::kill(sleeper, SIGKILL);
}

// On a timeout the whole process group goes, including what the child started.
TEST(ProcessTest, ATimeoutKillsTheChildsProcessGroup) {
  TempDir dir;
  ProcessOptions options;
  options.timeout = absl::Milliseconds(300);
  const std::string pid_file = dir.path() + "/pid";
  auto r = RunProcess({"sh", "-c", "sleep 30 & echo $! > " + pid_file + "; sleep 30"}, options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->signal, SIGTERM);
  const pid_t sleeper = std::stoi(Read(pid_file));
  // Gone, or a zombie waiting for its new parent to reap it: either way no longer running.
  std::string state;
  for (int i = 0; i < 200; ++i) {
    std::ifstream stat("/proc/" + std::to_string(sleeper) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) break;
    state = line.substr(line.rfind(')') + 2, 1);
    if (state == "Z") break;
    ::usleep(10000);
  }
  EXPECT_TRUE(state.empty() || state == "Z") << "background sleep still in state " << state;
}

// A reload that starts a daemon which keeps stderr (nginx started by a script, `sleep 20 &`)
// succeeds at once: before the fix it was a 3 s timeout, retried twice.
TEST_F(ExecutorTest, AReloadThatLeavesADaemonHoldingStderrSucceedsFirstTime) {
  DaemonConfig c = Config();
  const std::string pid_file = dir_.path() + "/daemon.pid";
  c.reload["web1"] = CommandSettings{
      {"sh", "-c", "sleep 20 & echo $! > " + pid_file + "; echo reloaded; exit 0"}, absl::Seconds(3)};
  Executor executor(c, clock_, sleep_);
  PlannedAction a = Action(ActionKind::kReload);
  a.host = "web1";
  auto report = executor.Execute(a, Lineage());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->success) << report->detail;
  EXPECT_EQ(report->attempts, 1);
  EXPECT_TRUE(slept_.empty());
  EXPECT_FALSE(report->timed_out);
  EXPECT_EQ(report->events.at(0).As<DeployEvent>()->outcome, Outcome::kSuccess);
  ::kill(std::stoi(Read(pid_file)), SIGKILL);
}

// Issue #12 finding 11: a child gets the allow-list and its configured variables, nothing else.
TEST(ProcessTest, ChildEnvironmentIsTheAllowListPlusWhatWasConfigured) {
  const char* const parent[] = {"PATH=/usr/bin:/bin", "HOME=/root", "LANG=fr_FR.UTF-8",
                                "LC_ALL=C.UTF-8", "TZ=UTC", "REQUESTS_CA_BUNDLE=/ca.pem",
                                "AWS_SECRET_ACCESS_KEY=hunter2", "CF_Token=secret",
                                "LCX=no", "NOEQUALS", "PATHS=no", nullptr};
  EXPECT_THAT(ChildEnvironment({}, parent),
              ElementsAre("HOME=/root", "LANG=fr_FR.UTF-8", "LC_ALL=C.UTF-8", "PATH=/usr/bin:/bin",
                          "REQUESTS_CA_BUNDLE=/ca.pem", "TZ=UTC"));
  // Configured variables are added, and win over an inherited one.
  EXPECT_THAT(ChildEnvironment({{"CLOUDFLARE_DNS_API_TOKEN", "t"}, {"TZ", "Europe/Paris"}}, parent),
              ElementsAre("CLOUDFLARE_DNS_API_TOKEN=t", "HOME=/root", "LANG=fr_FR.UTF-8",
                          "LC_ALL=C.UTF-8", "PATH=/usr/bin:/bin", "REQUESTS_CA_BUNDLE=/ca.pem",
                          "TZ=Europe/Paris"));
}

TEST_F(ExecutorTest, TheClientSeesItsConfiguredVariablesButNotTheDaemonsOthers) {
  ::setenv("CERTCAST_SECRET_TEST", "x", 1);
  DaemonConfig c = Config();
  c.client.path = dir_.path() + "/env-certbot";
  std::ofstream(c.client.path) << "#!/bin/sh\nenv > '" << dir_.path() << "/env'\nexit 0\n";
  std::filesystem::permissions(c.client.path, std::filesystem::perms::owner_all);
  c.client.env = {{"CERTCAST_CONFIGURED_TEST", "y"}};
  Executor executor(c, clock_, sleep_);
  auto report = executor.Execute(Action(ActionKind::kRenew), Lineage());
  ::unsetenv("CERTCAST_SECRET_TEST");
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->success) << report->detail;
  const std::string env = Read(dir_.path() + "/env");
  EXPECT_THAT(env, ::testing::Not(HasSubstr("CERTCAST_SECRET_TEST")));
  EXPECT_THAT(env, HasSubstr("CERTCAST_CONFIGURED_TEST=y\n"));
  EXPECT_THAT(env, HasSubstr("PATH=/"));
}

TEST(LockFileNameTest, ACertManagerNameCannotLeaveTheLockDirectory) {
  EXPECT_EQ(LockFileName("default/shop-tls"), "default%2Fshop-tls.lock");
  EXPECT_EQ(LockFileName(".."), "%...lock");
  EXPECT_EQ(LockFileName("shop.example.com"), "shop.example.com.lock");
}

TEST(ProcessTest, DetachedOutputIsCapturedLikePipedOutputKeepingTheTail) {
  ProcessOptions options;
  options.detached_output = true;
  auto r = RunProcess({"sh", "-c", "echo out; echo err >&2; exit 3"}, options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stdout_text, "out\n");
  EXPECT_EQ(r->stderr_text, "err\n");
  EXPECT_EQ(r->exit_code, 3);
  options.max_output_bytes = 4;
  r = RunProcess({"sh", "-c", "printf 0123456789"}, options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stdout_text, "6789");  // the tail explains a failure
}

TEST(ProcessTest, AnInheritedLockIsHeldByTheChildAfterTheParentLetsGo) {
  TempDir dir;
  const std::string path = dir.path() + "/lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  ProcessOptions options;
  options.inherited_fd = fd;
  options.detached_output = true;
  // The child runs in the background of the shell and outlives RunProcess; it holds the lock.
  auto r = RunProcess({"sh", "-c", "sleep 2 & exit 0"}, options);
  ASSERT_TRUE(r.ok()) << r.status();
  ::close(fd);  // the parent lets go (as a killed daemon would)
  const int other = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  EXPECT_NE(::flock(other, LOCK_EX | LOCK_NB), 0) << "the lock went with the parent";
  ::close(other);
}

TEST(ProcessTest, AProgramThatDoesNotExistIsNotFound) {
  auto r = RunProcess({"/nonexistent/certbot"}, {});
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

struct ConfigCase {
  std::string name;
  std::string toml;
  std::string error;  // "" = valid
};

class DaemonConfigTest : public ::testing::TestWithParam<ConfigCase> {};

TEST_P(DaemonConfigTest, ParsesOrNamesTheBadKey) {
  auto c = ParseDaemonConfig(GetParam().toml);
  if (GetParam().error.empty()) {
    EXPECT_TRUE(c.ok()) << c.status();
  } else {
    EXPECT_EQ(c.status().message(), GetParam().error);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Config, DaemonConfigTest,
    ::testing::Values(
        ConfigCase{"AnEmptyFileGivesTheDefaults", "", ""},
        ConfigCase{"AFullFileParses", R"(
db = "/var/lib/certcast/fleet.db"
model = "/var/lib/certcast/model.ubj"
interval = "30m"
lock_dir = "/run/certcast"
[policy]
max_concurrent_renewals = 20
dry_run_risk = 0.5
[[policy.maintenance_window]]
days = ["sat", "sun"]
start = "02:00"
end = "05:00"
[client]
kind = "lego"
email = "ops@example.com"
dns_provider = "cloudflare"
env = { CLOUDFLARE_DNS_API_TOKEN = "token" }
[[lineage]]
cert = "shop"
kind = "certbot"
[[reload]]
host = "web1"
command = ["systemctl", "reload", "nginx"]
env = { SYSTEMD_LOG_LEVEL = "debug" }
[alert]
webhook = "https://hooks.example/certcast"
env = { PAGER_TOKEN = "p" }
[[collector]]
name = "certbot-log"
command = ["certcast", "parse", "certbot", "/var/log/letsencrypt/letsencrypt.log"]
every = "1h"
)", ""},
        ConfigCase{"ATypoInAPolicyKeyIsAnError", "[policy]\nmax_concurent_renewals = 3\n",
                   "policy.max_concurent_renewals: unknown key"},
        ConfigCase{"AProbabilityOutsideZeroToOneIsAnError", "[policy]\nalert_risk = 1.5\n",
                   "policy.alert_risk: expected a number in [0, 1]"},
        ConfigCase{"ADurationWithoutUnitIsAnError", "interval = \"30\"\n",
                   "interval: bad duration \"30\": want numbers with units d, h, m, s (e.g. 7d, 1d12h)"},
        ConfigCase{"AnUnknownWeekdayIsAnError",
                   "[[policy.maintenance_window]]\ndays = [\"funday\"]\n",
                   "policy.maintenance_window[0].days: \"funday\" is not one of sun, mon, tue, wed, "
                   "thu, fri, sat"},
        ConfigCase{"AnUnknownClientIsAnError", "[client]\nkind = \"win-acme\"\n",
                   "client.kind: \"win-acme\" is not one of certbot, lego, acme.sh"},
        ConfigCase{"AReloadWithoutACommandIsAnError", "[[reload]]\nhost = \"web1\"\n",
                   "reload[0].command: must name a program"},
        ConfigCase{"AnUnknownAltChallengeIsAnError",
                   "[[lineage]]\ncert = \"shop\"\nalt_challenges = [\"dns-02\"]\n",
                   "lineage[0].alt_challenges: \"dns-02\" is not http-01, dns-01 or tls-alpn-01"},
        ConfigCase{"AnEnvNameThatIsNotAVariableNameIsAnError",
                   "[client]\nenv = { \"1X\" = \"v\" }\n",
                   "client.env: \"1X\" is not a variable name ([A-Za-z_][A-Za-z0-9_]*)"},
        ConfigCase{"AnEnvValueThatIsNotAStringIsAnError",
                   "[[reload]]\ncommand = [\"true\"]\nenv = { A = 1 }\n",
                   "reload[0].env.A: expected a string"},
        ConfigCase{"AnEnvThatIsNotATableIsAnError", "[[collector]]\ncommand = [\"true\"]\nenv = \"A=1\"\n",
                   "collector[0].env: expected a table of strings"},
        ConfigCase{"ATimeScaleBelowOneIsAnError", "[policy]\ntime_scale = 0.5\n",
                   "policy.time_scale: expected a number >= 1 (1 = real time), got 0.5"}),
    [](const ::testing::TestParamInfo<ConfigCase>& info) { return info.param.name; });

}  // namespace
}  // namespace certcast::act
