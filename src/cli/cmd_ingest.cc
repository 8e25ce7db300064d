// certcast ingest: events-v1 files into the store.
#include <cstdio>
#include <iostream>

#include "cli/command.h"
#include "cli/progress.h"
#include "core/strings.h"
#include "store/ingest.h"

namespace certcast::cli {
namespace {

struct IngestFlags {
  std::string db;
  std::vector<std::string> files;
  size_t batch = IngestOptions().batch_events;
  bool log_commits = false;
  bool quiet = false;
};

int RunIngest(const IngestFlags& flags) {
  auto store = Store::Open(flags.db);
  if (!store.ok()) return Fail(store.status());

  ProgressLine progress;
  IngestOptions options;
  options.batch_events = flags.batch;
  options.on_reject = [&](std::string_view source, int64_t line, std::string_view reason) {
    progress.Done();
    std::cerr << source << ":" << line << ": " << reason << "\n";
  };
  std::string current;
  if (flags.log_commits) {
    options.on_commit = [&](std::string_view source, int64_t line) {
      std::cerr << "certcast: committed " << source << " through line " << line << "\n";
    };
  }
  IngestStats total;
  const absl::Time start = SystemClock::Get().Now();
  for (const std::string& file : flags.files) {
    options.on_progress = [&](int64_t bytes, int64_t size, int64_t events) {
      const double secs = absl::ToDoubleSeconds(SystemClock::Get().Now() - start);
      std::string text = StrCat("ingest ", file == "-" ? "<stdin>" : file, ": ", HumanBytes(bytes));
      if (size > 0) text += StrCat(" of ", HumanBytes(size), " (", 100 * bytes / size, "%)");
      text += StrCat(", ", Thousands(total.accepted + events), " events");
      if (secs > 0) text += StrCat(", ", Thousands(static_cast<int64_t>((total.accepted + events) / secs)), "/s");
      progress.Show(text);
    };
    auto stats = IngestFile(**store, file, options);
    progress.Done();
    if (!stats.ok()) {
      std::cerr << "certcast: " << stats.status().message() << "\n";
      std::cerr << "certcast: stopped; everything reported committed before this is stored ("
                << Thousands(total.inserted) << " events from earlier files)\n";
      return kExitFailure;
    }
    total += *stats;
  }
  const double secs = absl::ToDoubleSeconds(SystemClock::Get().Now() - start);
  if (!flags.quiet) {
    std::cerr << "ingested " << Thousands(total.lines) << " lines from " << flags.files.size()
              << (flags.files.size() == 1 ? " file" : " files") << ": "
              << Thousands(total.inserted) << " stored, " << Thousands(total.duplicates)
              << " duplicates, " << Thousands(total.rejected) << " rejected";
    if (secs > 0.5) {
      std::cerr << " (" << StrCat(static_cast<int64_t>(secs * 10) / 10.0) << " s, "
                << Thousands(static_cast<int64_t>(total.accepted / secs)) << " events/s)";
    }
    std::cerr << "\n";
  }
  return total.rejected > 0 ? kExitRejected : kExitOk;
}

const bool registered = RegisterCommand({
    .name = "ingest",
    .summary = "Store events-v1 lines from files or standard input",
    .order = 10,
    .setup =
        [](CLI::App& sub) {
          auto flags = std::make_shared<IngestFlags>();
          sub.description(
              "Reads events-v1 JSON Lines (docs/events-v1.md) and stores every valid line. Each "
              "rejected line is reported on stderr as FILE:LINE: reason; the valid lines around "
              "it are kept. Exact duplicates are stored once, so re-ingesting a file is safe. "
              "Lines are committed in batches: a batch is durable once committed, and a crash "
              "or kill loses at most the batch in flight.");
          sub.add_option("--db", flags->db, "Store file (SQLite); created when missing")
              ->required();
          sub.add_option("files", flags->files, "Event files; '-' reads standard input")
              ->required();
          sub.add_option("--batch", flags->batch, "Events per committed transaction")
              ->capture_default_str()
              ->check(CLI::Range(1, 10000000));
          sub.add_flag("--log-commits", flags->log_commits,
                       "Print a line on stderr after each durable commit");
          sub.add_flag("-q,--quiet", flags->quiet, "No summary line");
          sub.footer(
              "Exit: 0 all lines stored; 1 some lines rejected (the rest stored); 3 the input "
              "or the store failed.\n\nExample:\n  certcast ingest --db fleet.db events.jsonl\n"
              "  zcat old.jsonl.gz | certcast ingest --db fleet.db -");
          return [flags] { return RunIngest(*flags); };
        },
});

}  // namespace
}  // namespace certcast::cli
