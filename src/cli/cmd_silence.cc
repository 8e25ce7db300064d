// certcast silence: silences kept in the store (docs/alerts.md), set, listed and ended from the
// shell, the same rows and audit records as POST / DELETE /v1/silences.
#include <iostream>
#include <random>

#include "alert/alert.h"
#include "api/silences.h"
#include "cli/command.h"
#include "core/clock.h"
#include "core/strings.h"
#include "core/time.h"
#include "store/store.h"

namespace certcast::cli {
namespace {

struct SilenceFlags {
  std::string db;
  std::string by;
  std::string until;
  std::string duration;
  std::string lineage;
  std::string host;
  std::string cause;
  std::string label;
  std::string comment;
  std::string id;
  bool all = false;
};

int UsageError(const Status& s) {
  std::cerr << "certcast: " << s.message() << "\n";
  return kExitUsage;
}

StatusOr<std::unique_ptr<Store>> OpenExisting(const std::string& path) {
  StoreOptions options;
  options.create_if_missing = false;  // a typo in --db is an error, not an empty store
  return Store::Open(path, options);
}

// Tabs and newlines in the operator's free text would break the one-line, tab-separated rows.
std::string OneLine(std::string text) {
  for (char& c : text) {
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  }
  return text;
}

int RunAdd(const SilenceFlags& flags) {
  const absl::Time now = SystemClock::Get().Now();
  SilenceRecord silence;
  // CLI11 guarantees exactly one matcher (excludes + require_option below).
  for (const auto& [matcher, value] :
       {std::pair<const char*, const std::string*>{"lineage", &flags.lineage},
        {"host", &flags.host}, {"cause", &flags.cause}, {"label", &flags.label}}) {
    if (!value->empty()) {
      silence.matcher = matcher;
      silence.value = *value;
    }
  }
  if (silence.matcher.empty()) {
    return UsageError(InvalidArgumentError(
        "give one matcher: --lineage, --host, --cause or --label (a non-empty value)"));
  }
  silence.comment = flags.comment;
  silence.created_by = flags.by;
  silence.created = now;
  if (!flags.until.empty()) {
    auto until = ParseRfc3339(flags.until);
    if (!until.ok()) return UsageError(until.status().WithPrefix("--until"));
    silence.until = *until;
  } else {
    auto duration = ParseDurationFlag(flags.duration);
    if (!duration.ok()) return UsageError(duration.status().WithPrefix("--for"));
    silence.until = now + *duration;
  }
  auto store = OpenExisting(flags.db);
  if (!store.ok()) return Fail(store.status());
  // An id nobody can guess or collide with; not a secret.
  std::random_device random;
  auto added = api::AddSilence(**store, std::move(silence), (uint64_t{random()} << 32) ^ random(),
                               {.field = "by", .name = flags.by, .via = "certcast silence add"},
                               now);
  if (!added.ok()) {
    if (added.status().code() == StatusCode::kInvalidArgument) return UsageError(added.status());
    return Fail(added.status());
  }
  std::cout << added->id << "\n";
  std::cerr << "certcast: silence " << added->id << " on " << added->matcher << " "
            << added->value << " until " << FormatRfc3339(added->until) << " (by " << added->created_by
            << ")\n";
  return kExitOk;
}

int RunList(const SilenceFlags& flags) {
  const absl::Time now = SystemClock::Get().Now();
  auto store = OpenExisting(flags.db);
  if (!store.ok()) return Fail(store.status());
  auto silences = (*store)->ListSilences();
  if (!silences.ok()) return Fail(silences.status());
  std::cout << "id\tmatcher\tvalue\tcreated_by\tcreated\tuntil\tended\tended_by\tin_force\tcomment\n";
  for (const SilenceRecord& s : *silences) {
    if (!flags.all && !s.InForce(now)) continue;
    std::cout << s.id << "\t" << s.matcher << "\t" << OneLine(s.value) << "\t" << s.created_by
              << "\t" << FormatRfc3339(s.created) << "\t" << FormatRfc3339(s.until) << "\t"
              << (s.ended ? FormatRfc3339(*s.ended) : "-") << "\t"
              << (s.ended_by.empty() ? "-" : s.ended_by) << "\t"
              << (s.InForce(now) ? "yes" : "no") << "\t" << OneLine(s.comment) << "\n";
  }
  return kExitOk;
}

int RunRemove(const SilenceFlags& flags) {
  auto store = OpenExisting(flags.db);
  if (!store.ok()) return Fail(store.status());
  auto ended = api::EndSilence(**store, flags.id,
                               {.field = "by", .name = flags.by, .via = "certcast silence remove"},
                               SystemClock::Get().Now());
  if (!ended.ok()) {
    if (ended.status().code() == StatusCode::kNotFound) return UsageError(ended.status());
    return Fail(ended.status());
  }
  std::cerr << "certcast: silence " << ended->id << " ended at " << FormatRfc3339(*ended->ended)
            << " (by " << ended->ended_by << ")\n";
  return kExitOk;
}

const bool registered = RegisterCommand({
    .name = "silence",
    .summary = "Set, list and end alert silences kept in the store",
    .order = 85,
    .setup =
        [](CLI::App& sub) {
          auto flags = std::make_shared<SilenceFlags>();
          sub.description(
              "A silence keeps matching alerts out of notices (webhook, command, Alertmanager) "
              "while it is in force; they are still recorded in their incident with silenced_by "
              "(docs/alerts.md). It matches by lineage (cert name), host, cause (a cause key "
              "such as domain:example.com or a cause name such as caa_dnssec) or label "
              "(name=value among cert, host, cause, cause_key, reason, client, ca, challenge). "
              "Silences last at most 90 days and are never deleted: remove ends one early and "
              "records who did. The same store rows and audit records (kind silence) as "
              "POST / DELETE /v1/silences of `certcast serve`.");
          sub.require_subcommand(1);

          auto* add = sub.add_subcommand("add", "Set a silence; prints its id (one line)");
          add->add_option("--db", flags->db, "Store file (SQLite); must exist")->required();
          add->add_option("--by", flags->by, "Who sets it, recorded as created_by (a name, not a secret)")
              ->required();
          auto* until = add->add_option("--until", flags->until, "In force until this instant")
                            ->check(RequireTimestamp());
          auto* duration = add->add_option("--for", flags->duration,
                                           "In force for this long from now (at most 90d)")
                               ->check(RequireDuration());
          until->excludes(duration);
          duration->excludes(until);
          auto* lineage = add->add_option("--lineage", flags->lineage, "Matcher: this lineage (cert name)");
          auto* host = add->add_option("--host", flags->host, "Matcher: lineages on this host");
          auto* cause = add->add_option(
              "--cause", flags->cause,
              "Matcher: a cause key (domain:example.com, ca:URL, host:web1) or cause name (caa_dnssec)");
          auto* label = add->add_option("--label", flags->label, "Matcher: NAME=VALUE, e.g. client=lego");
          std::vector<CLI::Option*> matchers = {lineage, host, cause, label};
          for (CLI::Option* a : matchers) {
            for (CLI::Option* b : matchers) {
              if (a != b) a->excludes(b);
            }
          }
          add->add_option("--comment", flags->comment, "Why (free text, at most 1,000 bytes)");
          add->footer(
              "Give --by, one of --until / --for and one matcher.\n\nExample (every lineage of "
              "example.com, four hours):\n"
              "  certcast silence add --db fleet.db --by alice --cause domain:example.com --for 4h "
              "--comment \"DNS provider maintenance\"\n"
              "  certcast silence add --db fleet.db --by bob --label client=lego "
              "--until 2026-12-24T08:00:00Z");

          auto* list = sub.add_subcommand(
              "list", "Silences in force (--all: every one ever set), tab-separated with a header");
          list->add_option("--db", flags->db, "Store file")->required();
          list->add_flag("--all", flags->all, "Also those expired or ended");

          auto* remove = sub.add_subcommand("remove", "End a silence in force now");
          remove->add_option("--db", flags->db, "Store file")->required();
          remove->add_option("--by", flags->by, "Who ends it, recorded as ended_by")->required();
          remove->add_option("id", flags->id, "Silence id (sil-...)")->required();
          sub.footer(
              "Exit: 0 ok; 2 bad flags, no or several matchers, neither or both of --until and "
              "--for, a silence longer than 90 days, no such silence in force; 3 the store "
              "failed.\n\nExample:\n"
              "  certcast silence add --db fleet.db --by alice --cause domain:example.com --for 4h \\\n"
              "      --comment \"DNS provider maintenance\"\n"
              "  certcast silence list --db fleet.db\n"
              "  certcast silence remove --db fleet.db --by alice sil-0123456789abcdef");
          return [flags, add, list, remove, until, duration] {
            if (add->parsed()) {
              if (until->count() + duration->count() != 1) {
                return UsageError(InvalidArgumentError("give one of --until and --for"));
              }
              return RunAdd(*flags);
            }
            if (list->parsed()) return RunList(*flags);
            if (remove->parsed()) return RunRemove(*flags);
            return kExitUsage;
          };
        },
});

}  // namespace
}  // namespace certcast::cli
