// certcast scan: probe every target of a TOML config, concurrently, and write events-v1 lines or
// store them.
#include <csignal>
#include <fstream>
#include <iostream>

#include "cli/command.h"
#include "collect/probe/scan.h"
#include "core/clock.h"
#include "core/event_json.h"
#include "core/file_safety.h"
#include "core/strings.h"
#include "store/store.h"

namespace certcast::cli {
namespace {

struct ScanFlags {
  std::string config;
  std::string out;
  std::string db;
};

int RunScanCommand(const ScanFlags& flags) {
  std::signal(SIGPIPE, SIG_IGN);  // peers closing mid-write must not kill the scan
  std::ifstream in(flags.config, std::ios::binary);
  if (!in) return Fail(NotFoundError(StrCat("--config ", flags.config, ": cannot open")));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto plan = probe::ParseScanConfig(text, SystemClock::Get());
  if (!plan.ok()) {
    std::cerr << "certcast: " << flags.config << ": " << plan.status().message() << "\n";
    return kExitUsage;
  }
  // Opened before the probes run, so that a bad --db fails fast instead of after a long scan.
  std::unique_ptr<Store> store;
  if (!flags.db.empty()) {
    auto opened = Store::Open(flags.db);
    if (!opened.ok()) return Fail(opened.status().WithPrefix(StrCat("--db ", flags.db)));
    store = std::move(*opened);
  }
  const probe::ScanResult result = probe::RunScan(*plan);
  for (const std::string& error : result.errors) std::cerr << "certcast: scan: " << error << "\n";
  if (store) {
    // The store's append is ingest's: one transaction, exact duplicates stored once.
    auto stored = store->AppendEvents(result.events);
    if (!stored.ok()) return Fail(stored.status().WithPrefix(StrCat("--db ", flags.db)));
    std::cerr << "scan: " << plan->targets.size() << " targets, " << result.events.size()
              << " events (" << stored->inserted << " stored, " << stored->duplicates
              << " duplicates), " << result.errors.size() << " with errors\n";
    return result.errors.empty() ? kExitOk : kExitRejected;
  }
  std::string lines;
  for (const Event& e : result.events) {
    AppendEventJson(e, lines);
    lines.push_back('\n');
  }
  if (flags.out.empty() || flags.out == "-") {
    std::cout << lines << std::flush;
  } else {
    // Written whole to a temporary and renamed, so a reader never sees half a scan; the
    // temporary's name is unpredictable and opened O_EXCL|O_NOFOLLOW (no symlink followed).
    if (Status written = WriteFileAtomically(flags.out, lines, 0644); !written.ok()) {
      return Fail(written.WithPrefix("--out"));
    }
  }
  std::cerr << "scan: " << plan->targets.size() << " targets, " << result.events.size() << " events, "
            << result.errors.size() << " with errors\n";
  return result.errors.empty() ? kExitOk : kExitRejected;
}

const bool registered = RegisterCommand({
    .name = "scan",
    .summary = "Probe every target of a TOML config concurrently; write events-v1 lines",
    .order = 6,
    .setup =
        [](CLI::App& sub) {
          auto flags = std::make_shared<ScanFlags>();
          sub.description(
              "Reads a TOML config listing tls, dns, http01 and ca targets (format in "
              "docs/probes.md), probes them with at most [scan] concurrency probes at a time, "
              "each within its timeout, and writes one events-v1 line per observation in config "
              "order, or with --db stores them (as `certcast ingest` does: exact duplicates "
              "are stored once).");
          sub.add_option("--config", flags->config, "TOML file listing the targets")->required();
          CLI::Option* out =
              sub.add_option("--out", flags->out, "Output file (default: stdout); replaced atomically");
          sub.add_option("--db", flags->db, "Store the events in this store (SQLite) instead of printing them")
              ->excludes(out);
          sub.footer(
              "Exit: 0 every target produced its events; 1 some targets produced fewer (each "
              "reported on stderr; everything produced is written); 2 bad config; 3 output or "
              "store failed.\n\n"
              "Example:\n  certcast scan --config fleet-probes.toml --out probes.jsonl\n"
              "  certcast scan --config fleet-probes.toml --db fleet.db");
          return [flags] { return RunScanCommand(*flags); };
        },
});

}  // namespace
}  // namespace certcast::cli
