// certcast stats: what a store holds, at a glance.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <set>

#include "cli/command.h"
#include "cli/progress.h"
#include "cli/stats.h"
#include "core/time.h"
#include "store/store.h"

namespace certcast::cli {

StatusOr<StoreSummary> Summarize(Store& store) {
  StoreSummary s;
  // Per lineage: whether an episode is open (a failure since the last success or issuance).
  std::map<std::string, bool, std::less<>> in_episode;
  std::set<std::string, std::less<>> outage_certs;
  RETURN_IF_ERROR(store.ScanEvents({}, [&](const Event& e) {
    ++s.events;
    ++s.by_type[static_cast<int>(e.type())];
    if (s.events == 1) s.first = e.ts;
    s.last = e.ts;
    if (const auto* c = e.As<ConfigEvent>()) {
      in_episode.try_emplace(c->cert, false);
    } else if (const auto* i = e.As<IssuedEvent>()) {
      in_episode[i->cert] = false;
    } else if (const auto* r = e.As<RenewalEvent>()) {
      if (r->dry_run) return OkStatus();
      ++s.attempts;
      bool& open = in_episode[r->cert];
      if (r->outcome == Outcome::kSuccess) {
        open = false;
      } else {
        ++s.failures;
        if (!open) ++s.episodes;
        open = true;
      }
    } else if (const auto* t = e.As<TlsProbeEvent>()) {
      const bool expired = (t->error && *t->error == TlsError::kExpired) ||
                           (t->not_after && *t->not_after <= e.ts);
      if (expired) {
        ++s.outage_probes;
        if (t->cert) outage_certs.insert(*t->cert);
      }
    }
    return OkStatus();
  }));
  s.lineages = static_cast<int64_t>(in_episode.size());
  s.open_episodes = std::count_if(in_episode.begin(), in_episode.end(),
                                  [](const auto& kv) { return kv.second; });
  s.lineages_with_outage = static_cast<int64_t>(outage_certs.size());
  return s;
}

void PrintSummary(const StoreSummary& s, std::FILE* out) {
  std::fprintf(out, "events:     %s", Thousands(s.events).c_str());
  if (s.events > 0) {
    std::fprintf(out, " from %s to %s", FormatRfc3339(s.first).c_str(),
                 FormatRfc3339(s.last).c_str());
  }
  std::fprintf(out, "\n  by type:  ");
  bool first = true;
  for (int t = 0; t < kEventTypeCount; ++t) {
    if (!s.by_type[t]) continue;
    std::fprintf(out, "%s%s %s", first ? "" : ", ",
                 std::string(ToString(static_cast<EventType>(t))).c_str(),
                 Thousands(s.by_type[t]).c_str());
    first = false;
  }
  std::fprintf(out, "\nlineages:   %s\n", Thousands(s.lineages).c_str());
  std::fprintf(out, "renewals:   %s attempts, %s failed (dry runs not counted)\n",
               Thousands(s.attempts).c_str(), Thousands(s.failures).c_str());
  std::fprintf(out, "episodes:   %s failure episodes, %s still open at the last event\n",
               Thousands(s.episodes).c_str(), Thousands(s.open_episodes).c_str());
  std::fprintf(out, "outages:    %s probes saw an expired certificate, on %s lineages\n",
               Thousands(s.outage_probes).c_str(), Thousands(s.lineages_with_outage).c_str());
}

namespace {

const bool registered = RegisterCommand({
    .name = "stats",
    .summary = "Summarise what a store holds",
    .order = 12,
    .setup =
        [](CLI::App& sub) {
          auto db = std::make_shared<std::string>();
          sub.description(
              "Counts events by type, lineages, renewal attempts and failures, failure episodes "
              "(events-v1 labels: an episode starts at the first failed attempt after the last "
              "success or issuance) and outages (probes that saw an expired certificate).");
          sub.add_option("--db", *db, "Store file")->required();
          sub.footer("Example:\n  certcast stats --db fleet.db");
          return [db] {
            auto store = Store::Open(*db, {.create_if_missing = false});
            if (!store.ok()) return Fail(store.status());
            auto summary = Summarize(**store);
            WarnUnreadableEvents(**store);
            if (!summary.ok()) return Fail(summary.status());
            PrintSummary(*summary, stdout);
            return kExitOk;
          };
        },
});

}  // namespace
}  // namespace certcast::cli
