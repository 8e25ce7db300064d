#include "act/collector.h"

#include <sstream>

#include "act/process.h"
#include "core/event_json.h"
#include "core/strings.h"

namespace certcast::act {

CollectorRun RunCollector(const CollectorSettings& c) {
  CollectorRun run;
  ProcessOptions options;
  options.timeout = c.timeout;
  // Collector output is the one large stream here; 64 MiB bounds a runaway collector.
  options.max_output_bytes = 64 << 20;
  options.environment = ChildEnvironment(c.env);
  auto result = RunProcess(c.argv, options);
  if (!result.ok() || !result->ok()) {
    run.failure = !result.ok()        ? result.status().message()
                  : result->timed_out ? "timeout"
                                      : StrCat("exit ", result->exit_code, ": ", LastLine(result->stderr_text));
    // A collector that failed part-way may still have printed valid events: keep them.
    if (!result.ok() || result->stdout_text.empty()) return run;
  }
  EventParser parser;
  std::istringstream lines(result->stdout_text);
  std::string line;
  int64_t number = 0;
  while (std::getline(lines, line)) {
    ++number;
    if (line.empty()) continue;
    auto e = parser.Parse(line);
    if (!e.ok()) {
      ++run.rejected;
      if (run.first_rejections.size() < 10) run.first_rejections.emplace_back(number, e.status().message());
      continue;
    }
    run.events.push_back(std::move(*e));
  }
  return run;
}

}  // namespace certcast::act
