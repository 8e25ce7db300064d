// Tests of collect/host: the clients' hook environments, the events a hook emits from real
// certificate files, the spool (write, read, retention), and the host probe with a fake command
// runner. Certificates are the pebble-issued fixtures of tests/data/client-logs/state.
#include <sys/stat.h>

#include <chrono>
#include <fstream>

#include "collect/host/hook.h"
#include "collect/host/host_probe.h"
#include "collect/host/spool.h"
#include "core/event_json.h"
#include "core/strings.h"
#include "core/time.h"
#include "gtest/gtest.h"

namespace certcast::host {
namespace {
namespace fs = std::filesystem;

const fs::path kState = "tests/data/client-logs/state";

absl::Time T(std::string_view text) { return *ParseRfc3339(text); }

std::string Lines(const std::vector<Event>& events) {
  std::string out;
  for (const Event& e : events) out += EventToJson(e) + "\n";
  return out;
}

class TempDir : public testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            StrCat("certcast-host-", ::testing::UnitTest::GetInstance()->random_seed(), "-",
                   reinterpret_cast<uintptr_t>(this));
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  void Copy(const fs::path& from, const fs::path& to) {
    fs::create_directories(to.parent_path());
    fs::copy_file(from, to, fs::copy_options::overwrite_existing);
  }
  void Write(const fs::path& path, std::string_view text) {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << text;
  }
  void SetMtime(const fs::path& path, absl::Time t) {
    const auto sys = std::chrono::system_clock::from_time_t(absl::ToTimeT(t));
    fs::last_write_time(path, std::chrono::file_clock::from_sys(sys));
  }
  std::vector<std::string> Names(const fs::path& dir) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename());
    std::sort(names.begin(), names.end());
    return names;
  }

  fs::path root_;
};

// ---- hook environments ----

TEST(HookEnvironment, EachClientsVariablesNameTheLineageAndItsFiles) {
  struct Case {
    const char* name;
    Client client;
    std::map<std::string, std::string> environment;
    HookTarget want;
  };
  const Case cases[] = {
      {"certbot deploy hook, trailing slash",
       Client::kCertbot,
       {{"RENEWED_LINEAGE", "/etc/letsencrypt/live/shop/"},
        {"RENEWED_DOMAINS", "shop.example.com www.shop.example.com"}},
       {Client::kCertbot, "shop", "/etc/letsencrypt/live/shop/cert.pem",
        "/etc/letsencrypt/renewal/shop.conf"}},
      {"lego renew hook, wildcard main domain stored as _.",
       Client::kLego,
       {{"LEGO_ACCOUNT_EMAIL", "ops@example.com"},
        {"LEGO_CERT_DOMAIN", "*.example.com"},
        {"LEGO_CERT_PATH", "/srv/.lego/certificates/_.example.com.crt"},
        {"LEGO_CERT_KEY_PATH", "/srv/.lego/certificates/_.example.com.key"}},
       {Client::kLego, "*.example.com", "/srv/.lego/certificates/_.example.com.crt",
        "/srv/.lego/certificates/_.example.com.json"}},
      // lego 4.9.1's renew sets the PEM and PFX paths whether or not it wrote those files: they
      // must not change what is read.
      {"lego 4.9.1 renew hook with the PEM and PFX paths it always sets",
       Client::kLego,
       {{"LEGO_ACCOUNT_EMAIL", "ops@example.com"},
        {"LEGO_CERT_DOMAIN", "shop.example.com"},
        {"LEGO_CERT_PATH", "/srv/.lego/certificates/shop.example.com.crt"},
        {"LEGO_CERT_KEY_PATH", "/srv/.lego/certificates/shop.example.com.key"},
        {"LEGO_CERT_PEM_PATH", "/srv/.lego/certificates/shop.example.com.pem"},
        {"LEGO_CERT_PFX_PATH", "/srv/.lego/certificates/shop.example.com.pfx"}},
       {Client::kLego, "shop.example.com", "/srv/.lego/certificates/shop.example.com.crt",
        "/srv/.lego/certificates/shop.example.com.json"}},
      {"acme.sh reloadcmd, ECC folder",
       Client::kAcmeSh,
       {{"Le_Domain", "shop.example.com"},
        {"CERT_PATH", "/root/.acme.sh/shop.example.com_ecc/shop.example.com.cer"},
        {"CERT_KEY_PATH", "/root/.acme.sh/shop.example.com_ecc/shop.example.com.key"},
        {"CA_CERT_PATH", "/root/.acme.sh/shop.example.com_ecc/ca.cer"},
        {"CERT_FULLCHAIN_PATH", "/root/.acme.sh/shop.example.com_ecc/fullchain.cer"}},
       {Client::kAcmeSh, "shop.example.com",
        "/root/.acme.sh/shop.example.com_ecc/shop.example.com.cer",
        "/root/.acme.sh/shop.example.com_ecc/shop.example.com.conf"}},
  };
  for (const Case& c : cases) {
    auto target = HookTargetFromEnvironment(c.client, c.environment);
    ASSERT_TRUE(target.ok()) << c.name << ": " << target.status();
    EXPECT_EQ(*target, c.want) << c.name;
  }
}

TEST(HookEnvironment, MissingOrBadVariablesSayWhatAndHowToInstallTheHook) {
  struct Case {
    Client client;
    std::map<std::string, std::string> environment;
    const char* error;
  };
  const Case cases[] = {
      {Client::kCertbot, {}, "RENEWED_LINEAGE is not set: run `certcast hook certbot` as certbot's --deploy-hook"},
      {Client::kCertbot, {{"RENEWED_LINEAGE", ""}},
       "RENEWED_LINEAGE is not set: run `certcast hook certbot` as certbot's --deploy-hook"},
      {Client::kCertbot, {{"LEGO_CERT_DOMAIN", "shop.example.com"}},
       "RENEWED_LINEAGE is not set: run `certcast hook certbot` as certbot's --deploy-hook "
       "(LEGO_CERT_DOMAIN is set: this looks like lego's --run-hook or --renew-hook, which needs "
       "`certcast hook lego`)"},
      {Client::kCertbot, {{"RENEWED_LINEAGE", "/"}},
       "RENEWED_LINEAGE \"/\" does not end in a lineage directory"},
      {Client::kLego, {{"LEGO_CERT_DOMAIN", "shop.example.com"}},
       "LEGO_CERT_PATH is not set: run `certcast hook lego` as lego's --run-hook or --renew-hook"},
      {Client::kLego, {{"LEGO_CERT_PATH", "/x.crt"}},
       "LEGO_CERT_DOMAIN is not set: run `certcast hook lego` as lego's --run-hook or --renew-hook"},
      {Client::kLego,
       {{"LEGO_HOOK_CERT_NAME", "shop.example.com"},
        {"LEGO_HOOK_CERT_PATH", "/var/lib/lego/certificates/shop.example.com.crt"},
        {"LEGO_HOOK_CERT_KEY_PATH", "/var/lib/lego/certificates/shop.example.com.key"}},
       "LEGO_HOOK_CERT_PATH is set but LEGO_CERT_DOMAIN is not: this is lego 5's --deploy-hook, whose "
       "environment `certcast hook lego` does not read yet (it reads lego 4's --run-hook and "
       "--renew-hook)"},
      {Client::kAcmeSh, {{"Le_Domain", "shop.example.com"}},
       "CERT_PATH is not set: run `certcast hook acme.sh` as acme.sh's --reloadcmd or --renew-hook"},
      {Client::kAcmeSh, {{"RENEWED_LINEAGE", "/etc/letsencrypt/live/shop"}},
       "Le_Domain is not set: run `certcast hook acme.sh` as acme.sh's --reloadcmd or --renew-hook "
       "(RENEWED_LINEAGE is set: this looks like certbot's --deploy-hook, which needs `certcast "
       "hook certbot`)"},
      {Client::kLego, {{"LEGO_CERT_DOMAIN", "shop\n.example.com"}, {"LEGO_CERT_PATH", "/x.crt"}},
       "LEGO_CERT_DOMAIN \"shop\n.example.com\" is not a lineage name (control characters or "
       "invalid UTF-8)"},
      {Client::kAcmeSh, {{"Le_Domain", "shop\xff"}, {"CERT_PATH", "/x.cer"}},
       "Le_Domain \"shop\xEF\xBF\xBD\" is not a lineage name (control characters or invalid UTF-8)"},
      {Client::kLego, {{"LEGO_CERT_DOMAIN", std::string(256, 'a')}, {"LEGO_CERT_PATH", "/x.crt"}},
       "LEGO_CERT_DOMAIN is longer than 255 bytes: not a lineage name"},
      {Client::kCaddy, {}, "no hook for client \"caddy\": certbot, lego or acme.sh"},
  };
  for (const Case& c : cases) {
    auto target = HookTargetFromEnvironment(c.client, c.environment);
    ASSERT_FALSE(target.ok()) << c.error;
    EXPECT_EQ(target.status().message(), c.error);
  }
}

// ---- hook events from real files ----

using HookEventsTest = TempDir;

TEST_F(HookEventsTest, CertbotLineageGivesRenewalAtTheFileTimeAndTheDiscoverIssuedLine) {
  const fs::path le = root_ / "etc/letsencrypt";
  Copy(kState / "c-http.pem", le / "live/c-http/cert.pem");
  Copy(kState / "c-http.conf", le / "renewal/c-http.conf");
  SetMtime(le / "live/c-http/cert.pem", T("2026-11-28T02:51:33Z"));
  auto target = HookTargetFromEnvironment(
      Client::kCertbot, {{"RENEWED_LINEAGE", (le / "live/c-http").string()}});
  ASSERT_TRUE(target.ok()) << target.status();
  const HookEvents out = RenewalEvents(*target);
  EXPECT_TRUE(out.problems.empty()) << out.problems.front();
  // The issued line is byte for byte the one `certcast discover` prints (clients_test).
  EXPECT_EQ(Lines(out.events),
            R"({"ts":"2026-11-28T02:51:33Z","type":"renewal","cert":"c-http","outcome":"success","ca":"https://127.0.0.1:14000/dir"})"
            "\n"
            R"({"ts":"2026-11-28T02:51:32Z","type":"issued","cert":"c-http","serial":"4673844dd4a1f7c8","not_before":"2026-11-28T02:51:32Z","not_after":"2027-02-26T02:51:31Z","ca":"https://127.0.0.1:14000/dir","names":["c-http.acmelab.test"]})"
            "\n");
  // Run again on the same certificate: the same lines, which the store drops as duplicates.
  EXPECT_EQ(Lines(RenewalEvents(*target).events), Lines(out.events));
}

TEST_F(HookEventsTest, LegoAndAcmeShTakeTheCaFromTheirState) {
  const fs::path lego = root_ / ".lego/certificates";
  Copy(kState / "c-dns.pem", lego / "c-dns.acmelab.test.crt");
  Copy(kState / "c-dns.acmelab.test.json", lego / "c-dns.acmelab.test.json");
  SetMtime(lego / "c-dns.acmelab.test.crt", T("2026-11-28T02:51:43Z"));
  auto target = HookTargetFromEnvironment(
      Client::kLego, {{"LEGO_CERT_DOMAIN", "c-dns.acmelab.test"},
                      {"LEGO_CERT_PATH", (lego / "c-dns.acmelab.test.crt").string()}});
  ASSERT_TRUE(target.ok()) << target.status();
  HookEvents out = RenewalEvents(*target);
  EXPECT_TRUE(out.problems.empty());
  EXPECT_EQ(Lines(out.events),
            R"({"ts":"2026-11-28T02:51:43Z","type":"renewal","cert":"c-dns.acmelab.test","outcome":"success","ca":"https://127.0.0.1:14000"})"
            "\n"
            R"({"ts":"2026-11-28T02:51:42Z","type":"issued","cert":"c-dns.acmelab.test","serial":"30c57e27fc53d8d6","not_before":"2026-11-28T02:51:42Z","not_after":"2027-02-26T02:51:41Z","ca":"https://127.0.0.1:14000","names":["c-dns.acmelab.test","*.c-dns.acmelab.test"]})"
            "\n");

  const fs::path domain = root_ / ".acme.sh/shop.example.com_ecc";
  Copy(kState / "c-http.pem", domain / "shop.example.com.cer");
  Copy(kState / "shop.example.com.conf", domain / "shop.example.com.conf");
  SetMtime(domain / "shop.example.com.cer", T("2026-11-28T02:51:40Z"));
  target = HookTargetFromEnvironment(
      Client::kAcmeSh, {{"Le_Domain", "shop.example.com"},
                        {"CERT_PATH", (domain / "shop.example.com.cer").string()}});
  ASSERT_TRUE(target.ok()) << target.status();
  out = RenewalEvents(*target);
  EXPECT_TRUE(out.problems.empty());
  EXPECT_EQ(Lines(out.events),
            R"({"ts":"2026-11-28T02:51:40Z","type":"renewal","cert":"shop.example.com","outcome":"success","ca":"https://acme-v02.api.letsencrypt.org/directory"})"
            "\n"
            R"({"ts":"2026-11-28T02:51:32Z","type":"issued","cert":"shop.example.com","serial":"4673844dd4a1f7c8","not_before":"2026-11-28T02:51:32Z","not_after":"2027-02-26T02:51:31Z","ca":"https://acme-v02.api.letsencrypt.org/directory","names":["c-http.acmelab.test"]})"
            "\n");
}

TEST_F(HookEventsTest, UnreadableCertificateOrStateIsReportedNotInvented) {
  const fs::path live = root_ / "live/shop";
  HookTarget target{Client::kCertbot, "shop", live / "cert.pem", root_ / "renewal/shop.conf"};

  HookEvents out = RenewalEvents(target);  // no certificate at all
  EXPECT_TRUE(out.events.empty());
  EXPECT_EQ(out.problems, std::vector<std::string>{
                              StrCat("no events for shop: ", (live / "cert.pem").string(),
                                     ": not a readable file")});

  Write(live / "cert.pem", "garbage");
  out = RenewalEvents(target);
  EXPECT_TRUE(out.events.empty());
  EXPECT_EQ(out.problems, std::vector<std::string>{
                              StrCat("no events for shop: ", (live / "cert.pem").string(),
                                     ": neither PEM nor a DER certificate")});

  // A good certificate without its renewal conf: the renewal without ca, no issued event.
  Copy(kState / "c-http.pem", live / "cert.pem");
  SetMtime(live / "cert.pem", T("2026-11-28T03:00:00Z"));
  out = RenewalEvents(target);
  EXPECT_EQ(Lines(out.events),
            R"({"ts":"2026-11-28T03:00:00Z","type":"renewal","cert":"shop","outcome":"success"})"
            "\n");
  EXPECT_EQ(out.problems, std::vector<std::string>{StrCat(
                              "no issued event for shop (its ca is unknown): ",
                              (root_ / "renewal/shop.conf").string(), ": not a readable file")});
}

TEST(HookEvents, DeployEventCarriesTheReloadOutcome) {
  EXPECT_EQ(EventToJson(DeployEvent("shop", "web1", false, "  exit 1: nginx: [emerg] bad\n",
                                    T("2026-11-28T10:00:00Z"))),
            R"({"ts":"2026-11-28T10:00:00Z","type":"deploy","cert":"shop","host":"web1","outcome":"failure","detail":"exit 1: nginx: [emerg] bad"})");
  EXPECT_EQ(EventToJson(DeployEvent("shop", "web1", true, "", T("2026-11-28T10:00:00Z"))),
            R"({"ts":"2026-11-28T10:00:00Z","type":"deploy","cert":"shop","host":"web1","outcome":"success"})");
}

// ---- spool ----

using SpoolTest = TempDir;

std::vector<Event> SampleEvents() {
  return {*ParseEventLine(R"({"ts":"2026-11-28T02:51:33Z","type":"renewal","cert":"shop","outcome":"success"})"),
          *ParseEventLine(R"({"ts":"2026-11-28T02:51:34Z","type":"deploy","cert":"shop","host":"web1","outcome":"failure","detail":"exit 1"})")};
}

TEST(Spool, FileNamesSortByTimeAndCarryThePid) {
  EXPECT_EQ(SpoolFileName(T("2026-11-28T10:15:02.123456Z"), 4242),
            "20261128T101502.123456Z-4242.jsonl");
  EXPECT_EQ(SpoolFileName(T("2026-11-28T10:15:02Z"), 7), "20261128T101502.000000Z-7.jsonl");
}

TEST_F(SpoolTest, WrittenEventsReadBackAndNoTemporaryIsLeft) {
  const fs::path dir = root_ / "var/lib/certcast/spool";  // created with its parents
  auto path = WriteSpoolFile(dir, "20261128T101502.000000Z-1.jsonl", SampleEvents());
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(*path, dir / "20261128T101502.000000Z-1.jsonl");
  EXPECT_EQ(Names(dir), std::vector<std::string>{"20261128T101502.000000Z-1.jsonl"});
  // Private: the directory 0700 and the file 0600 (issue #12, finding 4).
  EXPECT_EQ(fs::status(dir).permissions(), fs::perms::owner_all);
  EXPECT_EQ(fs::status(*path).permissions(), fs::perms::owner_read | fs::perms::owner_write);

  const absl::Time now = T("2026-11-28T12:00:00Z");
  SetMtime(*path, now - absl::Hours(1));
  auto read = ReadSpool(dir, absl::Hours(24 * 30), now);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->events, SampleEvents());
  EXPECT_TRUE(read->problems.empty());
  EXPECT_EQ(read->files, 1);
  EXPECT_EQ(read->deleted, 0);
  // Reading again gives the same events: the reader only deletes what is old.
  EXPECT_EQ(ReadSpool(dir, absl::Hours(24 * 30), now)->events, SampleEvents());
}

TEST_F(SpoolTest, BadLinesAreReportedWithFileAndLineAndTheRestIsKept) {
  Write(root_ / "a.jsonl",
        R"({"ts":"2026-11-28T02:51:33Z","type":"renewal","cert":"shop","outcome":"success"})"
        "\n\n{\"ts\":\"2026-11-28T02:51:33Z\",\"type\":\"renewal\",\"cert\":\"shop\",\"outcome\":\"maybe\"}\n");
  Write(root_ / "b.jsonl", "not json\n");
  Write(root_ / "notes.txt", "ignored: not a spool file\n");
  Write(root_ / ".c.jsonl.tmp", "{\"half\":");  // a writer in progress: not read
  const absl::Time now = T("2026-11-28T12:00:00Z");
  for (const char* name : {"a.jsonl", "b.jsonl", "notes.txt", ".c.jsonl.tmp"}) {
    SetMtime(root_ / name, now - absl::Minutes(5));
  }
  auto read = ReadSpool(root_, absl::Hours(1), now);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(Lines(read->events),
            R"({"ts":"2026-11-28T02:51:33Z","type":"renewal","cert":"shop","outcome":"success"})"
            "\n");
  ASSERT_EQ(read->problems.size(), 2u);
  EXPECT_EQ(read->problems[0].file, (root_ / "a.jsonl").string());
  EXPECT_EQ(read->problems[0].line, 3u);
  EXPECT_EQ(read->problems[0].reason, "field \"outcome\": \"maybe\" is not one of success, failure");
  EXPECT_EQ(read->problems[1].file, (root_ / "b.jsonl").string());
  EXPECT_EQ(read->problems[1].line, 1u);
  EXPECT_EQ(read->files, 2);
  EXPECT_EQ(Names(root_), (std::vector<std::string>{".c.jsonl.tmp", "a.jsonl", "b.jsonl", "notes.txt"}));
}

TEST_F(SpoolTest, FilesOlderThanKeepArePrintedOnceMoreThenDeleted) {
  const absl::Time now = T("2026-11-28T12:00:00Z");
  ASSERT_TRUE(WriteSpoolFile(root_, "old.jsonl", SampleEvents()).ok());
  ASSERT_TRUE(WriteSpoolFile(root_, "new.jsonl", SampleEvents()).ok());
  Write(root_ / ".stale.jsonl.tmp", "{");
  Write(root_ / ".recent.jsonl.tmp", "{");
  SetMtime(root_ / "old.jsonl", now - absl::Hours(24 * 31));
  SetMtime(root_ / "new.jsonl", now - absl::Hours(24 * 29));
  SetMtime(root_ / ".stale.jsonl.tmp", now - absl::Hours(2));
  SetMtime(root_ / ".recent.jsonl.tmp", now - absl::Minutes(1));
  // --keep 30d: old.jsonl goes after this read; a temporary goes once it is an hour old, whatever
  // --keep says: half a file is never read, and a writer may still be at work on a younger one.
  auto read = ReadSpool(root_, absl::Hours(24 * 30), now);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->events.size(), 4u);
  EXPECT_EQ(read->deleted, 2);
  EXPECT_EQ(Names(root_), (std::vector<std::string>{".recent.jsonl.tmp", "new.jsonl"}));
  read = ReadSpool(root_, absl::ZeroDuration(), now);
  EXPECT_EQ(read->events.size(), 2u);
  EXPECT_EQ(Names(root_), std::vector<std::string>{".recent.jsonl.tmp"});
}

TEST_F(SpoolTest, ErrorsNameThePath) {
  auto read = ReadSpool(root_ / "missing", absl::Hours(1), T("2026-11-28T12:00:00Z"));
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(read.status().message(), (root_ / "missing").string() + ": no such spool directory");

  Write(root_ / "file", "x");
  auto written = WriteSpoolFile(root_ / "file", "a.jsonl", SampleEvents());
  ASSERT_FALSE(written.ok());
  EXPECT_TRUE(written.status().message().starts_with((root_ / "file").string() + ": cannot create"))
      << written.status();

  written = WriteSpoolFile(root_, "../a.jsonl", SampleEvents());
  ASSERT_FALSE(written.ok());
  EXPECT_EQ(written.status().message(), "spool file name \"../a.jsonl\" is not NAME.jsonl");
  written = WriteSpoolFile(root_, ".a.jsonl", SampleEvents());
  EXPECT_FALSE(written.ok());
}

// Issue #12, finding 3: whoever can write the spool chooses what certcast believes, so only files
// and a directory that root or certcast's uid owns and nobody else may write are read.
TEST_F(SpoolTest, AFileWritableByOthersASymlinkOrAnotherUsersFileIsNotRead) {
  const absl::Time now = T("2026-11-28T12:00:00Z");
  ASSERT_TRUE(WriteSpoolFile(root_, "a-good.jsonl", SampleEvents()).ok());
  ASSERT_TRUE(WriteSpoolFile(root_, "b-writable.jsonl", SampleEvents()).ok());
  ASSERT_EQ(::chmod((root_ / "b-writable.jsonl").c_str(), 0666), 0);
  Write(root_ / "elsewhere.txt", Lines(SampleEvents()));
  fs::create_symlink(root_ / "elsewhere.txt", root_ / "c-link.jsonl");
  const bool root = ::geteuid() == 0;
  if (root) {
    ASSERT_TRUE(WriteSpoolFile(root_, "d-nobody.jsonl", SampleEvents()).ok());
    ASSERT_EQ(::chown((root_ / "d-nobody.jsonl").c_str(), 65534, 65534), 0);
  }
  auto read = ReadSpool(root_, absl::Hours(24 * 30), now);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->files, 1);
  EXPECT_EQ(read->events, SampleEvents());
  ASSERT_EQ(read->problems.size(), root ? 3u : 2u);
  EXPECT_EQ(read->problems[0].reason,
            StrCat("spool file ", (root_ / "b-writable.jsonl").string(),
                   ": mode 0666 lets group or others write it; refusing to use it (chmod go-w)"));
  EXPECT_EQ(read->problems[1].reason,
            StrCat("spool file ", (root_ / "c-link.jsonl").string(), ": is a symlink; not read"));
  if (root) {
    EXPECT_EQ(read->problems[2].reason,
              StrCat("spool file ", (root_ / "d-nobody.jsonl").string(),
                     ": owned by uid 65534, not by uid 0 (this process) or root; refusing to use it"));
  }
}

TEST_F(SpoolTest, ASpoolDirectoryWritableByOthersIsNotReadAtAll) {
  ASSERT_TRUE(WriteSpoolFile(root_, "a.jsonl", SampleEvents()).ok());
  ASSERT_EQ(::chmod(root_.c_str(), 01777), 0);
  auto read = ReadSpool(root_, absl::Hours(1), T("2026-11-28T12:00:00Z"));
  EXPECT_EQ(read.status(),
            FailedPreconditionError(StrCat("spool directory ", root_.string(),
                                           ": mode 1777 lets group or others write it; refusing to "
                                           "use it (chmod go-w)")));
}

// ---- host probe ----

TEST(ClientVersion, EachClientsOutput) {
  struct Case {
    Client client;
    const char* output;
    const char* version;  // nullptr: an error
  };
  const Case cases[] = {
      {Client::kCertbot, "certbot 2.1.0\n", "2.1.0"},
      {Client::kLego, "lego version 4.9.1 linux/amd64\n", "4.9.1"},
      {Client::kLego, "lego version dev linux/amd64\n", "dev"},
      {Client::kAcmeSh, "https://github.com/acmesh-official/acme.sh\nv3.0.7\n", "3.0.7"},
      {Client::kCertbot, "", nullptr},
      {Client::kCertbot, "usage: certbot [SUBCOMMAND]", nullptr},
      {Client::kLego, "lego version ", nullptr},
      {Client::kAcmeSh, "https://github.com/acmesh-official/acme.sh\n", nullptr},
      {Client::kCertbot, "certbot 2.1.0;rm", nullptr},
  };
  for (const Case& c : cases) {
    auto version = ParseClientVersion(c.client, c.output);
    if (c.version == nullptr) {
      EXPECT_FALSE(version.ok()) << c.output;
    } else {
      ASSERT_TRUE(version.ok()) << c.output << ": " << version.status();
      EXPECT_EQ(*version, c.version);
    }
  }
  EXPECT_EQ(ParseClientVersion(Client::kCertbot, "usage: certbot").status().message(),
            "no certbot version in \"usage: certbot\"");
}

TEST(SystemctlLastTrigger, TimestampStyles) {
  EXPECT_EQ(*ParseSystemctlLastTrigger("LoadState=loaded\nLastTriggerUSec=Fri 2026-11-27 06:12:01 UTC\n"),
            T("2026-11-27T06:12:01Z"));
  EXPECT_EQ(*ParseSystemctlLastTrigger("LastTriggerUSec=Fri 2026-11-27 06:12:01.250000 UTC"),
            T("2026-11-27T06:12:01.25Z"));
  EXPECT_EQ(*ParseSystemctlLastTrigger("LastTriggerUSec=@1795759921"), T("2026-11-27T06:12:01Z"));
  EXPECT_EQ(*ParseSystemctlLastTrigger("LastTriggerUSec=n/a"), std::nullopt);
  EXPECT_EQ(*ParseSystemctlLastTrigger("LastTriggerUSec="), std::nullopt);
  const std::pair<const char*, const char*> bad[] = {
      {"LoadState=not-found\nLastTriggerUSec=n/a", "LoadState=not-found: systemd does not know the unit"},
      {"", "no LastTriggerUSec in \"\""},
      {"LastTriggerUSec=Fri 2026-11-27 07:12:01 CET",
       "LastTriggerUSec \"Fri 2026-11-27 07:12:01 CET\" is not \"Www YYYY-MM-DD HH:MM:SS UTC\" or @SECONDS"},
      {"LastTriggerUSec=@12x", "LastTriggerUSec \"@12x\" is not @SECONDS"},
  };
  for (const auto& [output, error] : bad) {
    auto parsed = ParseSystemctlLastTrigger(output);
    ASSERT_FALSE(parsed.ok()) << output;
    EXPECT_EQ(parsed.status().message(), error);
  }
}

using HostProbeTest = TempDir;

// A fake runner: answers argv[0] from a table and records what was run.
struct FakeRunner {
  std::map<std::string, StatusOr<CommandOutput>> answers;
  std::vector<std::vector<std::string>> ran;
  RunCommand Get() {
    return [this](const std::vector<std::string>& argv) -> StatusOr<CommandOutput> {
      ran.push_back(argv);
      auto it = answers.find(argv[0]);
      if (it == answers.end()) return NotFoundError(StrCat(argv[0], ": cannot run"));
      return it->second;
    };
  }
};

TEST_F(HostProbeTest, SystemdTimerDiskAndVersion) {
  const absl::Time now = T("2026-11-28T12:00:00Z");
  fs::create_directories(root_ / "run/systemd/system");
  HostProbeOptions options;
  options.host = "web1";
  options.client = Client::kCertbot;
  options.state_dir = root_;
  options.timer = "certbot";
  options.systemd_run_dir = root_ / "run/systemd/system";
  FakeRunner runner;
  runner.answers.emplace("systemctl", CommandOutput{0, "LoadState=loaded\nLastTriggerUSec=Fri 2026-11-27 06:12:01 UTC\n"});
  runner.answers.emplace("certbot", CommandOutput{0, "certbot 2.1.0\n"});
  const HostProbeResult result = ProbeHost(options, runner.Get(), now);
  EXPECT_TRUE(result.problems.empty()) << result.problems.front();
  ASSERT_TRUE(result.event);
  const HostEvent* host = result.event->As<HostEvent>();
  EXPECT_EQ(result.event->ts, now);
  EXPECT_EQ(host->host, "web1");
  EXPECT_EQ(host->scheduler_last_run, T("2026-11-27T06:12:01Z"));
  EXPECT_EQ(host->client_version, "2.1.0");
  ASSERT_TRUE(host->disk_total_bytes && host->disk_free_bytes);
  EXPECT_GT(*host->disk_total_bytes, 0);
  EXPECT_LE(*host->disk_free_bytes, *host->disk_total_bytes);
  EXPECT_EQ(runner.ran, (std::vector<std::vector<std::string>>{
                            {"systemctl", "show", "-p", "LoadState", "-p", "LastTriggerUSec",
                             "--timestamp=utc", "certbot.timer"},
                            {"certbot", "--version"}}));
}

TEST_F(HostProbeTest, WithoutSystemdTheTimerStampAndTheCronFileGiveTheLastRun) {
  const absl::Time now = T("2026-11-28T12:00:00Z");
  HostProbeOptions options;
  options.host = "web1";
  options.client = Client::kLego;
  options.timer = "lego.timer";
  options.systemd_run_dir = root_ / "no-systemd";
  options.timer_stamp_dir = root_ / "timers";
  Write(root_ / "timers/stamp-lego.timer", "");
  SetMtime(root_ / "timers/stamp-lego.timer", T("2026-11-28T00:00:07Z"));
  FakeRunner runner;
  runner.answers.emplace("lego", CommandOutput{0, "lego version 4.9.1 linux/amd64\n"});
  HostProbeResult result = ProbeHost(options, runner.Get(), now);
  EXPECT_TRUE(result.problems.empty());
  ASSERT_TRUE(result.event);
  EXPECT_EQ(EventToJson(*result.event),
            R"({"ts":"2026-11-28T12:00:00Z","type":"host","host":"web1","scheduler_last_run":"2026-11-28T00:00:07Z","client_version":"4.9.1"})");
  EXPECT_EQ(runner.ran.size(), 1u);  // no systemctl: systemd is not running

  options.timer.clear();
  options.cron_file = root_ / "lego-cron.log";
  Write(options.cron_file, "renewed\n");
  SetMtime(options.cron_file, T("2026-11-28T03:30:00Z"));
  result = ProbeHost(options, runner.Get(), now);
  EXPECT_EQ(result.event->As<HostEvent>()->scheduler_last_run, T("2026-11-28T03:30:00Z"));
}

TEST_F(HostProbeTest, MissingPiecesAreLeftOutAndReported) {
  HostProbeOptions options;
  options.host = "web1";
  options.client = Client::kAcmeSh;
  options.state_dir = root_ / "no-such-dir";
  options.timer = "acme";
  options.systemd_run_dir = root_ / "no-systemd";
  options.timer_stamp_dir = root_ / "timers";
  options.cron_file = root_ / "no-cron.log";
  FakeRunner runner;  // no acme.sh anywhere
  const HostProbeResult result = ProbeHost(options, runner.Get(), T("2026-11-28T12:00:00Z"));
  EXPECT_FALSE(result.event);
  EXPECT_EQ(result.problems,
            (std::vector<std::string>{
                StrCat("disk space of ", (root_ / "no-such-dir").string(), ": No such file or directory"),
                StrCat("timer acme.timer: no last run (systemd is not running; no ",
                       (root_ / "timers/stamp-acme.timer").string(),
                       ", which only Persistent=true timers have)"),
                StrCat("scheduler last run from ", (root_ / "no-cron.log").string(),
                       ": No such file or directory"),
                "client version: acme.sh: cannot run"}));

  // acme.sh installs itself in its state directory: that copy is asked first.
  fs::create_directories(root_ / ".acme.sh");
  Write(root_ / ".acme.sh/acme.sh", "#!/bin/sh\n");
  fs::permissions(root_ / ".acme.sh/acme.sh", fs::perms::owner_all);
  options.state_dir = root_ / ".acme.sh";
  EXPECT_EQ(ClientProgram(options), (root_ / ".acme.sh/acme.sh").string());
  options.client_program = "/opt/acme/acme.sh";
  EXPECT_EQ(ClientProgram(options), "/opt/acme/acme.sh");
}

}  // namespace
}  // namespace certcast::host

namespace certcast::host {
namespace {

TEST(ClientSchedule, FoundInCrontabsAndTimerNames) {
  struct Row {
    const char* what;
    Client client;
    std::vector<SchedulerFile> crontabs;
    std::vector<std::string> timers;
    std::string timer, entry, cron_file;
  };
  const std::vector<Row> rows = {
      {"lego's timer wins over its cron entry", Client::kLego,
       {{"/etc/cron.d/lego", "0 3 * * * root lego --path /etc/lego renew --days 30 >> /var/log/lego.log 2>&1\n"}},
       {"certbot.timer", "lego-renew.timer", "lego-renew.service"}, "lego-renew.timer", "/etc/cron.d/lego:1",
       "/var/log/lego.log"},
      {"lego by full path, output written with >FILE", Client::kLego,
       {{"/etc/crontab", "SHELL=/bin/sh\n# lego renew (a comment)\n17 * * * * root /usr/local/bin/lego renew >/var/log/l.log\n"}},
       {}, "", "/etc/crontab:3", "/var/log/l.log"},
      {"lego's output discarded: an entry without a trace", Client::kLego,
       {{"/var/spool/cron/crontabs/root", "0 0 * * * lego --accept-tos renew > /dev/null 2>&1\n"}}, {}, "",
       "/var/spool/cron/crontabs/root:1", ""},
      {"lego run without renew is not the renewal", Client::kLego,
       {{"/etc/crontab", "0 0 * * * root lego list\n"}}, {}, "", "", ""},
      {"a word that merely contains lego is not lego", Client::kLego,
       {{"/etc/crontab", "0 0 * * * root legolas renew\n"}}, {}, "", "", ""},
      {"acme.sh's own entry: output discarded, its log in the state directory", Client::kAcmeSh,
       {{"/var/spool/cron/crontabs/root",
         "26 0 * * * \"/root/.acme.sh\"/acme.sh --cron --home \"/root/.acme.sh\" > /dev/null\n"}},
       {}, "", "/var/spool/cron/crontabs/root:1", "/root/.acme.sh/acme.sh.log"},
      {"acme.sh's timer", Client::kAcmeSh, {}, {"acme_sh.timer", "apt-daily.timer"}, "acme_sh.timer", "", ""},
      {"nothing for acme.sh", Client::kAcmeSh,
       {{"/etc/crontab", "0 0 * * * root lego renew\n"}}, {"lego.timer"}, "", "", ""},
  };
  for (const Row& row : rows) {
    const ClientSchedule found = FindClientSchedule(row.client, row.crontabs, row.timers, "/root/.acme.sh");
    EXPECT_EQ(found.timer, row.timer) << row.what;
    EXPECT_EQ(found.cron_entry, row.entry) << row.what;
    EXPECT_EQ(found.cron_file.string(), row.cron_file) << row.what;
  }
}

TEST_F(HostProbeTest, DiscoveredCronEntryGivesTheLastRun) {
  fs::create_directories(root_ / "etc/cron.d");
  fs::create_directories(root_ / "var/log");
  const fs::path log = root_ / "var/log/lego.log";
  std::ofstream(root_ / "etc/cron.d/lego") << "0 3 * * * root lego renew >> " << log.string() << "\n";
  std::ofstream(log) << "renewed\n";
  const auto stamp = std::chrono::file_clock::from_sys(std::chrono::sys_seconds(std::chrono::seconds(1795759921)));
  fs::last_write_time(log, stamp);
  const ClientSchedule schedule = DiscoverClientSchedule(Client::kLego, root_, root_);
  EXPECT_EQ(schedule.cron_entry, "/etc/cron.d/lego:1");
  EXPECT_EQ(schedule.cron_file, log);
  EXPECT_EQ(schedule.timer, "");
  HostProbeOptions options;
  options.host = "web2";
  options.client = Client::kLego;
  options.cron_file = schedule.cron_file;
  FakeRunner runner;
  runner.answers.emplace("lego", CommandOutput{0, "lego version 4.9.1 linux/amd64\n"});
  const HostProbeResult result = ProbeHost(options, runner.Get(), T("2026-11-28T12:00:00Z"));
  ASSERT_TRUE(result.event);
  EXPECT_EQ(result.event->As<HostEvent>()->scheduler_last_run, absl::FromUnixSeconds(1795759921));
  // Nothing under an empty root.
  const fs::path empty = root_ / "empty";
  fs::create_directories(empty);
  const ClientSchedule none = DiscoverClientSchedule(Client::kAcmeSh, empty, empty);
  EXPECT_EQ(none.timer, "");
  EXPECT_EQ(none.cron_entry, "");
}

}  // namespace
}  // namespace certcast::host
