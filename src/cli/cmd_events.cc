// certcast events: print stored events as events-v1 lines.
#include <cstdio>
#include <iostream>
#include <set>

#include "cli/command.h"
#include "core/event_json.h"
#include "core/time.h"
#include "store/store.h"

namespace certcast::cli {
namespace {

struct EventsFlags {
  std::string db;
  std::string cert;
  std::string type;
  std::string since;
  std::string until;
};

// The subjects whose events concern a lineage: the lineage itself, its names (a wildcard's
// probes use the base name), its hosts and its CAs, as its config events say.
StatusOr<std::vector<std::string>> LineageSubjects(Store& store, const std::string& cert) {
  std::set<std::string> subjects = {cert};
  EventFilter configs{.subjects = {cert}, .type = EventType::kConfig};
  RETURN_IF_ERROR(store.ScanEvents(configs, [&](const Event& e) {
    const auto& c = *e.As<ConfigEvent>();
    for (const auto& name : c.names) {
      subjects.insert(name.rfind("*.", 0) == 0 ? name.substr(2) : name);
    }
    subjects.insert(c.host);
    subjects.insert(c.ca);
    return OkStatus();
  }));
  return std::vector<std::string>(subjects.begin(), subjects.end());
}

int RunEvents(const EventsFlags& flags) {
  auto store = Store::Open(flags.db, {.create_if_missing = false});
  if (!store.ok()) return Fail(store.status());
  EventFilter filter;
  if (!flags.cert.empty()) {
    auto subjects = LineageSubjects(**store, flags.cert);
    if (!subjects.ok()) return Fail(subjects.status());
    filter.subjects = *subjects;
  }
  if (!flags.type.empty()) {
    filter.type = EventTypeFromString(flags.type);
    if (!filter.type) {
      return Fail(InvalidArgumentError("--type " + flags.type + " is not an events-v1 type"));
    }
  }
  if (!flags.since.empty()) filter.since = *ParseRfc3339(flags.since);
  if (!flags.until.empty()) filter.until = *ParseRfc3339(flags.until);
  std::string line;
  Status s = (*store)->ScanEvents(filter, [&](const Event& e) {
    line.clear();
    AppendEventJson(e, line);
    line.push_back('\n');
    if (std::fwrite(line.data(), 1, line.size(), stdout) != line.size()) {
      return UnavailableError("cannot write to standard output");
    }
    return OkStatus();
  });
  WarnUnreadableEvents(**store);
  if (!s.ok()) return Fail(s);
  return std::fflush(stdout) == 0 ? kExitOk : kExitFailure;
}

const bool registered = RegisterCommand({
    .name = "events",
    .summary = "Print stored events as events-v1 lines",
    .order = 11,
    .setup =
        [](CLI::App& sub) {
          auto flags = std::make_shared<EventsFlags>();
          sub.description(
              "Prints stored events in time order, in the canonical events-v1 form, so that "
              "`certcast events --db A | certcast ingest --db B -` copies a store.");
          sub.add_option("--db", flags->db, "Store file")->required();
          sub.add_option("--cert", flags->cert,
                         "Only events about this lineage: its own, and those about its names, "
                         "hosts and CA");
          sub.add_option("--type", flags->type, "Only this event type (e.g. renewal, dns)");
          sub.add_option("--since", flags->since, "Only events at or after TS")
              ->check(RequireTimestamp());
          sub.add_option("--until", flags->until, "Only events before TS")
              ->check(RequireTimestamp());
          sub.footer(
              "Example:\n  certcast events --db fleet.db --cert shop --since 2026-11-01T00:00:00Z");
          return [flags] { return RunEvents(*flags); };
        },
});

}  // namespace
}  // namespace certcast::cli
