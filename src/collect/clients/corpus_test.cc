// The real-log corpus (tests/data/logs): every excerpt users posted publicly, parsed with the
// flags its index row gives, compared with the events a person reads in it (LOG.expected,
// written by reading the log, never by running the parser). Prints the share right by client and
// version and fails below the target of 95 % of the excerpts.
//
// An excerpt is right when its renewal events are exactly the expected ones: same lineage,
// outcome and error, and, where the expected line gives a time, within two minutes of it (an
// excerpt's first visible line of an attempt is not always where the parser starts it).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "collect/clients/acme_sh_log.h"
#include "collect/clients/certbot_log.h"
#include "collect/clients/lego_output.h"
#include "core/strings.h"
#include "core/time.h"
#include "gtest/gtest.h"

namespace certcast::clients {
namespace {

namespace fs = std::filesystem;
const fs::path kCorpus = "tests/data/logs";

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> Split(std::string_view line, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t end = line.find(sep, start);
    out.emplace_back(line.substr(start, end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

struct Expected {
  std::optional<absl::Time> ts;
  std::string cert, outcome, error;
};

// "0.9 (2016)" -> "0.x", "v4.17 (2024)" -> "4.x", "3.x-4.x (...)" -> "3.x".
std::string Major(std::string_view version) {
  if (!version.empty() && version[0] == 'v') version.remove_prefix(1);
  return StrCat(version.substr(0, version.find('.')), ".x");
}

std::string Describe(const RenewalEvent& r, absl::Time ts) {
  return StrCat(FormatRfc3339(ts), " ", r.cert, " ", std::string(ToString(r.outcome)), " ",
                r.error.value_or("-"));
}

TEST(ClientLogCorpus, ParsersReadTheRealLogsAsAPersonDoes) {
  const std::string index = ReadAll(kCorpus / "index.tsv");
  ASSERT_FALSE(index.empty()) << "cannot read " << (kCorpus / "index.tsv");
  struct Tally {
    int files = 0, right = 0, events = 0, events_right = 0;
  };
  std::map<std::string, Tally> by_group;
  Tally total;
  std::string misses;
  bool header = true;
  for (const std::string& row : Split(index, '\n')) {
    if (row.empty()) continue;
    if (header) {
      header = false;
      continue;
    }
    const std::vector<std::string> col = Split(row, '\t');
    ASSERT_GE(col.size(), 7u) << row;
    const std::string& file = col[0];
    const std::string& client = col[1];
    const std::vector<std::string> args = Split(col[6], ' ');
    std::optional<std::string> cert;
    for (size_t i = 0; i + 1 < args.size(); ++i) {
      if (args[i] == "--cert") cert = args[i + 1];
    }
    const std::string text = ReadAll(kCorpus / file);
    ASSERT_FALSE(text.empty()) << file;
    // Untimed lines get a fixed time: the corpus files' mtimes are those of the checkout.
    const absl::Time fallback = absl::FromUnixSeconds(1798761600);  // 2027-01-01
    ParseOutput out;
    if (client == "certbot") {
      CertbotLogOptions o;
      o.fallback_cert = cert;
      o.fallback_time = fallback;
      out = ParseCertbotLog(text, o);
    } else if (client == "lego") {
      LegoOutputOptions o;
      o.fallback_cert = cert;
      o.fallback_time = fallback;
      out = ParseLegoOutput(text, o);
    } else {
      AcmeShLogOptions o;
      o.fallback_cert = cert;
      o.fallback_time = fallback;
      out = ParseAcmeShLog(text, o);
    }
    std::vector<Expected> expected;
    for (const std::string& line : Split(ReadAll(kCorpus / (file + ".expected")), '\n')) {
      if (line.empty()) continue;
      const std::vector<std::string> f = Split(line, '\t');
      ASSERT_EQ(f.size(), 4u) << file << ": " << line;
      Expected e{std::nullopt, f[1], f[2], f[3] == "-" ? "" : f[3]};
      if (f[0] != "-") {
        auto ts = ParseRfc3339(f[0]);
        ASSERT_TRUE(ts.ok()) << file << ": " << f[0];
        e.ts = *ts;
      }
      expected.push_back(e);
    }
    std::vector<std::pair<const RenewalEvent*, absl::Time>> got;
    for (const Event& e : out.events) {
      if (const auto* r = e.As<RenewalEvent>()) got.emplace_back(r, e.ts);
    }
    int matched = 0;
    std::vector<bool> used(got.size(), false);
    for (const Expected& x : expected) {
      for (size_t i = 0; i < got.size(); ++i) {
        const RenewalEvent& r = *got[i].first;
        if (used[i] || r.cert != x.cert || std::string(ToString(r.outcome)) != x.outcome ||
            r.error.value_or("") != x.error) {
          continue;
        }
        if (x.ts && absl::AbsDuration(got[i].second - *x.ts) > absl::Minutes(2)) continue;
        used[i] = true;
        ++matched;
        break;
      }
    }
    const bool right = matched == static_cast<int>(expected.size()) && got.size() == expected.size();
    const std::string group = StrCat(client, " ", Major(col[2]));
    for (Tally* t : {&by_group[group], &total}) {
      t->files += 1;
      t->right += right ? 1 : 0;
      t->events += static_cast<int>(expected.size());
      t->events_right += matched;
    }
    if (!right) {
      std::string got_text;
      for (const auto& [r, ts] : got) got_text += StrCat("\n    got      ", Describe(*r, ts));
      std::string want_text;
      for (const Expected& x : expected) {
        want_text += StrCat("\n    expected ", x.ts ? FormatRfc3339(*x.ts) : "-", " ", x.cert, " ",
                            x.outcome, " ", x.error.empty() ? "-" : x.error);
      }
      misses += StrCat("\n  ", file, want_text, got_text);
    }
  }
  std::string table = "\nclient version | excerpts right | expected events right\n";
  for (const auto& [group, t] : by_group) {
    table += StrCat(group, " | ", t.right, "/", t.files, " | ", t.events_right, "/", t.events, "\n");
  }
  table += StrCat("all | ", total.right, "/", total.files, " | ", total.events_right, "/",
                  total.events, "\n");
  std::printf("%s", table.c_str());
  if (!misses.empty()) std::printf("not right:%s\n", misses.c_str());
  EXPECT_GE(total.files, 60);
  EXPECT_GE(total.right * 100, total.files * 95) << table << misses;
}

}  // namespace
}  // namespace certcast::clients
