// `certcast scan`: a TOML file lists targets; every target is probed, at most `concurrency` at a
// time (each probe holds at most one connection, so this bounds open connections), each within
// its own timeout. Events come back in the order of the config file, whatever order the probes
// finished in, so two scans of the same world diff cleanly.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "core/clock.h"
#include "core/event.h"
#include "core/status.h"

namespace certcast::probe {

// What one target produced: its events, and why it produced fewer than it should have (a `ca`
// target keeps its ca_probe and clock events when only the ARI query fails).
struct TargetOutput {
  std::vector<Event> events;
  Status status;
};
struct ScanTarget {
  std::string label;  // "tls 127.0.0.1:8443", for error messages
  std::function<TargetOutput()> run;
};

struct ScanPlan {
  int concurrency = 8;
  std::vector<ScanTarget> targets;
};

// Parses the config (format in docs/probes.md). Errors carry the TOML source position or the
// table that is wrong, e.g. `tls[1]: endpoint is missing`. `clock` is captured by the targets.
StatusOr<ScanPlan> ParseScanConfig(std::string_view toml_text, const Clock& clock);

struct ScanResult {
  std::vector<Event> events;        // config order
  std::vector<std::string> errors;  // "<label>: <message>", config order (a target may have both)
};
// Runs the plan with `plan.concurrency` worker threads.
ScanResult RunScan(const ScanPlan& plan);

}  // namespace certcast::probe
