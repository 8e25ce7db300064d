// certcast demo: the main job end to end on bundled data, in one command.
#include <filesystem>
#include <iostream>

#include "cli/command.h"
#include "cli/stats.h"
#include "store/ingest.h"

namespace certcast::cli {
namespace {

struct DemoFlags {
  std::string db = "out/demo.db";
  std::string sample = "tests/data/sample-fleet.jsonl";
};

int RunDemo(const DemoFlags& flags) {
  std::error_code ec;
  const auto dir = std::filesystem::path(flags.db).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  // A fresh store each run, so the demo shows the same thing every time.
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(flags.db + suffix, ec);
  auto store = Store::OpenSqlite(flags.db);
  if (!store.ok()) return Fail(store.status());
  std::cout << "certcast demo: ingesting " << flags.sample << " into " << flags.db << "\n";
  IngestOptions options;
  options.on_reject = [](std::string_view source, int64_t line, std::string_view reason) {
    std::cerr << source << ":" << line << ": " << reason << "\n";
  };
  auto stats = IngestFile(**store, flags.sample, options);
  if (!stats.ok()) return Fail(stats.status());
  auto summary = Summarize(**store);
  if (!summary.ok()) return Fail(summary.status());
  PrintSummary(*summary, stdout);
  return stats->rejected ? kExitRejected : kExitOk;
}

const bool registered = RegisterCommand({
    .name = "demo",
    .summary = "Run the main job end to end on bundled data",
    .order = 1,
    .setup =
        [](CLI::App& sub) {
          auto flags = std::make_shared<DemoFlags>();
          sub.description("Ingests a bundled sample fleet into a fresh store and summarises it.");
          sub.add_option("--db", flags->db, "Store to (re)create")->capture_default_str();
          sub.add_option("--sample", flags->sample, "Events to ingest")->capture_default_str();
          sub.footer("Example:\n  certcast demo");
          return [flags] { return RunDemo(*flags); };
        },
});

}  // namespace
}  // namespace certcast::cli
