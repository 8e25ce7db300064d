// The alert core (docs/alerts.md): which of the planner's alerts page a person, which become a
// ticket, an informational notice or a watch; incidents that group alerts sharing one cause; and
// silences. Pure: no clock, no I/O, no randomness. The caller passes `now`, the incidents still
// open (from the store) and the silences, and stores what comes back.
//
// The failure shape this exists for (issue #15): a DNS provider fails for a few hours and every
// lineage on it gets "the next renewal is expected to fail" for renewals due weeks later that
// never fail. A soft condition (a probe look-alike, not a failed renewal or a hard fact) that is
// young and whose renewal is not due before it is expected to clear is a watch: recorded, shown,
// re-evaluated at every plan, sent to nobody. Anything escalates as its deadline nears: the
// deadline is the certificate's expiry less the time the client's own retries need
// (retry_margin), and inside page_within of it every alert pages (the safety net).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "core/status.h"
#include "store/store.h"

namespace certcast::alert {

// Ordered: a higher severity reaches more people sooner.
enum class Severity : uint8_t { kWatch, kInfo, kTicket, kPage };
std::string_view ToString(Severity severity);
StatusOr<Severity> ParseSeverity(std::string_view text);  // InvalidArgument naming the known ones

// One lineage's alert as the planner proposes it at this plan (planned or held because already
// sent: the condition is still there). The caller fills it from the decision and the lineage view.
struct AlertCandidate {
  std::string cert;
  std::string host;
  std::string cause_key;   // what the incident groups on (CauseKey)
  std::string cause;       // the diagnosed cause ("caa_dnssec", ...)
  std::string reason;      // the policy's reason code (PredictedFailure, RenewalFailing, ...)
  std::string message;     // which renewal will fail, when and why
  std::map<std::string, std::string> labels;
  bool confirmed = false;  // a renewal or dry run failed with this cause
  bool hard_fact = false;  // a fact that breaks renewal by itself (policy::Diagnosis::hard_fact)
  bool transient = false;  // the error class usually clears by itself
  // A report about configuration, not a renewal about to fail: the client's renew rule renews
  // after expiry (RenewRuleTooLate). The expiry it leads to alerts on its own (ExpiryImminent,
  // which certcast's own safety-net renewal answers first), so this one is at most a ticket. Also
  // a lineage no longer observed on a host that still reports (LineageNotObserved: removed, most
  // likely; nothing there renews or serves it any more).
  bool config_report = false;
  std::optional<absl::Time> renewal_due;  // the client's next renewal
  std::optional<absl::Time> expiry;       // the current certificate's notAfter
};

// The incident key of a cause: the shared scope when the diagnosis names one ("host:web1",
// "domain:example.com"), else by cause: the CA for CA-side trouble, the host for local client,
// clock and account trouble, the registered domain for DNS, CAA and DNS-01 trouble, and the
// lineage itself for the rest.
std::string CauseKey(std::string_view cause, std::string_view scope, std::string_view cert,
                     std::string_view host, std::string_view ca,
                     std::string_view registered_domain);

struct AlertPolicy {
  // The client's own retries need this long before expiry to renew once the cause is fixed
  // (certbot and lego retry twice a day; a fix must land a few attempts before the end).
  absl::Duration retry_margin = absl::Hours(72);
  // Inside this of the deadline every alert pages, soft or not.
  absl::Duration page_within = absl::Hours(24 * 5);
  // Inside this of the deadline a hard or persisting cause is a ticket; further away it is an
  // informational notice (shown, sent to the info route, never paging).
  absl::Duration ticket_within = absl::Hours(24 * 21);
  // A soft condition younger than this whose renewal is not due within it is expected to clear:
  // a watch. Older, it persists and is treated like a hard one.
  absl::Duration clear_expected = absl::Hours(48);
  // Re-send an incident still open at the same severity after this long.
  absl::Duration renotify_page = absl::Hours(24);
  absl::Duration renotify_ticket = absl::Hours(24 * 7);
};

// The severity of one candidate whose condition was first seen at `first_seen`. A config_report
// is a ticket inside ticket_within of the deadline (or with no expiry known), info further away;
// it never pages.
Severity Classify(const AlertCandidate& candidate, absl::Time first_seen,
                  const AlertPolicy& policy, absl::Time now);

// ---- Silences ----

// Checks a silence before it is stored: matcher one of lineage / host / cause / label, a value of
// 1..256 printable bytes ("name=value" for a label), a comment of at most 1,000 bytes, created_by
// set, and created < until <= created + 90 days. InvalidArgument naming the field otherwise.
Status ValidateSilence(const SilenceRecord& silence);
// "sil-" and 16 hex digits of `nonce` (the caller draws it from its seeded or system source).
std::string SilenceId(uint64_t nonce);
// Whether `silence` matches this lineage's alert (ignores time; see SilenceRecord::InForce).
bool Matches(const SilenceRecord& silence, const AlertCandidate& candidate);

// ---- Incidents ----

struct IncidentLineage {
  std::string cert;
  std::string host;
  std::string reason;
  std::string message;
  Severity severity = Severity::kWatch;
  absl::Time first_seen;
  absl::Time last_seen;
  std::optional<absl::Time> recovered;  // no alert at a later plan
  std::optional<absl::Time> renewal_due;
  std::optional<absl::Time> expiry;
  std::string silenced_by;  // id of the silence in force at the last plan, "" when none
  bool operator==(const IncidentLineage&) const = default;
};

struct Incident {
  std::string id;
  std::string cause_key;
  std::string cause;
  Severity severity = Severity::kWatch;  // the highest among lineages not recovered
  Severity peak = Severity::kWatch;      // the highest it reached
  bool open = true;
  absl::Time opened;
  absl::Time updated;
  std::optional<absl::Time> resolved;
  std::vector<IncidentLineage> lineages;  // in the order they joined
  std::optional<absl::Time> notified_at;  // last firing notification sent
  Severity notified_severity = Severity::kWatch;
  int notifications = 0;  // firing and resolved notifications sent
  bool operator==(const Incident&) const = default;
};

// A notice to the sinks: one per incident state change worth a person's attention.
struct Notification {
  enum class Kind : uint8_t { kFiring, kResolved };
  Kind kind = Kind::kFiring;
  std::string incident_id;
  std::string cause_key;
  std::string cause;
  Severity severity = Severity::kWatch;
  std::string dedupe_key;              // incident id + severity: one per state a receiver keeps
  std::vector<std::string> certs;      // the lineages named (not recovered, not silenced)
  std::string summary;                 // one line for a person
  absl::Time starts_at;                // the incident's opening
  std::optional<absl::Time> ends_at;   // resolved notices: the resolution
  // Firing notices whose severity rose: the severity the receiver was told before, which it
  // should now consider ended (Alertmanager keys an alert by its labels, severity among them).
  std::optional<Severity> replaces;
  // When a receiver should expire a firing notice that is not repeated: one re-notification
  // interval of its severity after it was sent (Step re-sends before then while it lasts).
  std::optional<absl::Time> expires_at;
  absl::Time at;  // when it was made (the plan's instant)
};

struct StepResult {
  std::vector<Notification> notifications;
  std::vector<std::string> changed;  // ids of incidents created or updated (to store)
};

// One plan's worth of alerting. `incidents` holds the open incidents (and may hold resolved ones,
// which are left alone); candidates with a cause key of an open incident join it, the rest open
// new incidents; lineages absent from `candidates` recover; an incident whose lineages have all
// recovered is resolved (a resolved notice goes out when a firing one did). A firing notice goes
// out for an incident of severity ticket or page when it was never sent, its severity rose, or
// the re-notification interval passed; lineages matched by a silence in force are left out of it,
// and nothing goes out when every lineage is silenced.
StepResult Step(std::vector<Incident>& incidents, std::span<const AlertCandidate> candidates,
                std::span<const SilenceRecord> silences, const AlertPolicy& policy,
                absl::Time now);

// "inc-" + 12 hex digits of a hash of the cause key and the opening time: stable, and a second
// incident on the same cause after the first resolved gets another id.
std::string IncidentId(std::string_view cause_key, absl::Time opened);

// The stored form (IncidentRecord::document_json and its columns) and back. FromRecord is
// DataLoss naming the incident id when the document does not parse.
IncidentRecord ToRecord(const Incident& incident);
StatusOr<Incident> FromRecord(const IncidentRecord& record);
// The API's JSON of an incident (GET /v1/incidents/{id}); of a silence (GET /v1/silences).
std::string IncidentJson(const Incident& incident);
std::string SilenceJson(const SilenceRecord& silence, absl::Time now);

}  // namespace certcast::alert
