#include "collect/clients/lego_output.h"

#include <algorithm>
#include <charconv>

#include "absl/time/civil_time.h"
#include "core/strings.h"

namespace certcast::clients {
namespace {

struct Record {
  size_t line = 0;
  absl::Time ts;
  std::string_view level;    // "INFO", "WARN" or empty (log.Print/log.Fatal)
  std::string_view domains;  // inside the first "[...]" after the level, may be empty
  std::string_view message;  // after the level and domain tags
  std::string_view raw;      // everything after the timestamp
  std::vector<std::string_view> continuation;
};

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

int ToInt(std::string_view s) {
  int v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

enum class HeadResult { kNotAHead, kHead, kBadTime };

// "YYYY/MM/DD HH:MM:SS " (Go's log.LstdFlags).
HeadResult ParseHead(std::string_view t, size_t number, absl::Duration utc_offset, Record& r) {
  if (t.size() < 20 || t[4] != '/' || t[7] != '/' || t[10] != ' ' || t[13] != ':' ||
      t[16] != ':' || t[19] != ' ') {
    return HeadResult::kNotAHead;
  }
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18}) {
    if (t[i] < '0' || t[i] > '9') return HeadResult::kNotAHead;
  }
  const int year = ToInt(t.substr(0, 4)), month = ToInt(t.substr(5, 2)),
            day = ToInt(t.substr(8, 2)), hour = ToInt(t.substr(11, 2)),
            minute = ToInt(t.substr(14, 2)), second = ToInt(t.substr(17, 2));
  const absl::CivilSecond civil(year, month, day, hour, minute, second);
  if (civil.year() != year || civil.month() != month || civil.day() != day ||
      civil.hour() != hour || civil.minute() != minute || civil.second() != second) {
    return HeadResult::kBadTime;
  }
  r.line = number;
  r.ts = absl::FromCivil(civil, absl::UTCTimeZone()) - utc_offset;
  r.raw = t.substr(20);
  std::string_view rest = r.raw;
  r.level = {};
  // lego 0.x-1.x: "[INFO][domain] " without a blank.
  for (std::string_view level : {"[INFO] ", "[WARN] ", "[INFO]", "[WARN]"}) {
    if (StartsWith(rest, level)) {
      r.level = rest.substr(1, 4);
      rest.remove_prefix(level.size());
      break;
    }
  }
  r.domains = {};
  if (StartsWith(rest, "[")) {
    const size_t close = rest.find("] ");
    if (close != std::string_view::npos) {
      r.domains = rest.substr(1, close - 1);
      rest.remove_prefix(close + 2);
    }
  }
  r.message = rest;
  r.continuation.clear();
  return HeadResult::kHead;
}

std::string_view FirstDomain(std::string_view domains) {
  return Trim(domains.substr(0, domains.find(',')));
}

// lego's log.Fatal messages (cmd/*.go, 0.x-4.x): the run ends here.
bool KnownFatal(std::string_view m) {
  for (std::string_view f : {"Could not obtain certificates", "Could not create client",
                             "Could not load", "Could not renew", "Could not recover",
                             "Time limit exceeded", "Error while loading the certificate",
                             "Error while loading the meta data", "Unable to ",
                             "Please specify --domains", "error: one or more domains",
                             "The account is not registered"}) {
    if (StartsWith(m, f)) return true;
  }
  return StartsWith(m, "Account ") && m.find(" is not registered") != std::string_view::npos;
}

struct Attempt {
  bool open = false;
  size_t line = 0;
  absl::Time start;
  std::string cert;
  bool obtaining = false;  // lego got as far as ordering
  bool named_by_start = false;
  std::optional<Challenge> challenge;
};

class LegoParser {
 public:
  LegoParser(const LegoOutputOptions& options, ParseOutput& out) : options_(options), out_(out) {}

  void Feed(const Record& r) {
    last_ = r;
    // lego 5 dropped the "acme: " of lego 4's messages ("Obtaining bundled SAN certificate.").
    const std::string m_v4 = StartsWith(r.message, "acme: ") || r.message.find("cert-name=") == std::string_view::npos && r.message.find("domains=") == std::string_view::npos
                                 ? std::string(r.message)
                                 : StrCat("acme: ", r.message);
    const std::string_view m = m_v4;
    const bool levelled = r.level == "INFO" || r.level == "WARN";
    if (pending_ && levelled) {
      // A plain line followed by lego's own log lines was not its fatal error but something lego
      // passed through (the exec DNS provider prints its command's output that way). Unless
      // this line starts the next run: then the plain line did end the previous one.
      if (StartsRun(m)) {
        FlushPending();
      } else {
        notes_.push_back(pending_->raw);
        pending_.reset();
      }
    }
    if (!a_.open) {
      a_ = Attempt();
      a_.open = true;
      a_.line = r.line;
      a_.start = r.ts;
    }
    if (levelled && (StartsWith(r.message, "Skip renewal") ||
                     r.message.find("renewalInfo endpoint indicates that renewal is not needed") !=
                         std::string_view::npos)) {
      // lego 5 ("Skip renewal: the certificate expires in N days ..."), and ARI saying not yet.
      a_.open = false;
      return;
    }
    if (levelled) {
      if (!r.domains.empty() &&
          (StartsWith(m, "acme: Obtaining bundled SAN certificate") ||
           StartsWith(m, "acme: Trying renewal with") ||
           StartsWith(m, "acme: Obtaining SAN certificate given a CSR"))) {
        if (!a_.named_by_start) a_.cert = std::string(FirstDomain(r.domains));
        a_.named_by_start = true;
      }
      // Older lego names the domain on every line but not in an "Obtaining" line we saw.
      if (a_.cert.empty() && !r.domains.empty()) a_.cert = std::string(FirstDomain(r.domains));
      if (StartsWith(m, "acme: Obtaining")) a_.obtaining = true;
      // "acme: use http-01 solver", "acme: use dns-01 solver", "acme: use tls-alpn-01 solver"
      if (!a_.challenge && StartsWith(m, "acme: use ") && m.ends_with(" solver")) {
        a_.challenge = ChallengeFromString(m.substr(10, m.size() - 10 - 7));
      }
      if (r.level == "INFO" && StartsWith(m, "Server responded with a certificate")) {
        if (a_.cert.empty()) a_.cert = std::string(FirstDomain(r.domains));
        Emit(r, Outcome::kSuccess, {});
      }
      return;
    }
    // Plain records: lego's notices or the fatal error.
    std::string whole(m);
    for (auto l : r.continuation) whole += StrCat(" ", Trim(l));
    if (StartsWith(m, "The certificate expires in") && Trim(whole).ends_with(": no renewal.")) {
      a_.open = false;  // renew decided it is not due: no attempt
      return;
    }
    if (a_.cert.empty() && !r.domains.empty()) a_.cert = std::string(FirstDomain(r.domains));
    if (KnownFatal(m) || KnownFatal(r.raw)) {
      // One of lego's own fatal messages: the run ends here, whatever follows.
      if (pending_) notes_.push_back(pending_->raw);
      pending_.reset();
      Emit(r, Outcome::kFailure, r.raw);
      return;
    }
    if (StartsWith(r.raw, "No key found for account") || StartsWith(r.raw, "Saved key to")) {
      return;
    }
    // Lego's fatal error, or output it passed through: the next line tells (see above).
    if (pending_) notes_.push_back(pending_->raw);
    pending_ = r;
  }

  // A lineage named outside lego's own lines (the systemd unit), for the attempt under way or
  // the next one.
  void LineageHint(std::string name) { hint_ = std::move(name); }

  // The end of the input. `may_grow` (LegoOutputOptions::input_may_grow): lego may still be
  // writing, so a plain last line may yet turn out to be a DNS provider's output rather than the
  // fatal error, and an attempt under way may yet end: both are held back, not recorded.
  void End(bool may_grow) {
    if (may_grow && (pending_ || (a_.open && a_.obtaining))) {
      out_.held_back.push_back(a_.open ? a_.line : pending_->line);
      a_.open = false;
      pending_.reset();
      return;
    }
    FlushPending();
    if (a_.open && a_.obtaining) {
      // Under way when the output ends: an unexplained failure, not nothing.
      out_.issues.push_back({a_.line, StrCat("lego attempt for ", a_.cert.empty() ? "?" : a_.cert,
                                             " has no outcome (the output ends first); recorded "
                                             "as a failure, error unknown")});
      Record end = last_;
      end.continuation.clear();
      Emit(end, Outcome::kFailure, "no outcome in the log");
    }
    a_.open = false;
  }

 private:
  void Emit(const Record& r, Outcome outcome, std::string_view fatal) {
    a_.open = false;
    std::string cert = a_.cert;
    if (cert.empty() && hint_) cert = *hint_;
    if (cert.empty()) cert = options_.fallback_cert.value_or("");
    if (cert.empty()) {
      out_.issues.push_back(
          {a_.line, "lego attempt names no domain before it ended; pass --cert NAME"});
      return;
    }
    RenewalEvent e;
    e.cert = ToValidUtf8(cert);
    e.outcome = outcome;
    e.challenge = a_.challenge;
    e.ca = options_.ca;
    if (outcome == Outcome::kFailure) {
      // The whole error: the fatal line and the lines lego printed under it.
      std::string text(fatal);
      for (auto l : r.continuation) StrAppendLine(text, l);
      // What lego passed through before failing (a DNS provider's own error) explains it best.
      for (auto l : notes_) StrAppendLine(text, l);
      if (auto p = FindAcmeProblem(text, ProblemStyle::kLego)) {
        e.error = ToValidUtf8(p->type);
        if (!p->detail.empty()) e.detail = p->detail;
        // A multi-domain problem: the "[domain] acme: error: ..." line names the failing name.
        for (auto l : r.continuation) {
          if (StartsWith(Trim(l), "[") && l.find(p->type) != std::string_view::npos) {
            e.detail = CleanDetail(l);
          }
        }
      } else {
        e.error = ClassifyClientError(text);
        // "error: one or more domains had a problem:" introduces the list; the first problem is
        // the informative part.
        // The most specific line: the "[domain] ..." problem under the list header, else the
        // first line under a fatal message that ends with ":".
        std::string_view detail = fatal;
        for (auto l : r.continuation) {
          const std::string_view c = Trim(l);
          if (c.empty()) continue;
          if (StartsWith(c, "[")) {
            detail = c;
            break;
          }
          if (Trim(detail).ends_with(":") || Trim(detail).ends_with("problem:") ||
              detail == fatal && Trim(fatal).ends_with("certificates")) {
            detail = c;
          }
        }
        e.detail = CleanDetail(detail);
        if (!notes_.empty()) e.detail = StrCat(*e.detail, "; ", CleanDetail(notes_.back()));
      }
      // "Could not create client: get directory at 'https://ca.example/dir': ..."
      static constexpr std::string_view kDirectory = "get directory at '";
      if (const size_t at = text.find(kDirectory); at != std::string::npos) {
        const size_t end = text.find('\'', at + kDirectory.size());
        if (end != std::string::npos) {
          e.ca = ToValidUtf8(text.substr(at + kDirectory.size(), end - at - kDirectory.size()));
        }
      }
    }
    if (r.ts >= a_.start) e.duration_ms = absl::ToDoubleMilliseconds(r.ts - a_.start);
    Finish(Event{a_.start, std::move(e)}, a_.line, out_);
    notes_.clear();
  }

  // The first line of a lego run: its attempt begins here.
  static bool StartsRun(std::string_view m) {
    return StartsWith(m, "acme: Obtaining bundled SAN certificate") ||
           StartsWith(m, "acme: Trying renewal with") || StartsWith(m, "acme: Registering account");
  }

  void FlushPending() {
    if (!pending_) return;
    const Record r = *pending_;
    pending_.reset();
    Emit(r, Outcome::kFailure, r.raw);
  }

  static void StrAppendLine(std::string& text, std::string_view line) {
    text.push_back('\n');
    text.append(line);
  }

  const LegoOutputOptions& options_;
  ParseOutput& out_;
  Attempt a_;
  std::optional<std::string> hint_;
  Record last_;  // the last record fed
  std::optional<Record> pending_;       // a plain line not yet known to be fatal
  std::vector<std::string_view> notes_;  // plain lines that were not (this run's)
};

}  // namespace

// NixOS: "acme-DOMAIN-start", "acme-DOMAIN", "acme-order-renew-DOMAIN-start" -> DOMAIN.
std::optional<std::string> LineageFromUnit(std::string_view unit) {
  if (!StartsWith(unit, "acme-")) return std::nullopt;
  unit.remove_prefix(5);
  for (std::string_view p : {"order-renew-", "renew-", "order-"}) {
    if (StartsWith(unit, p)) {
      unit.remove_prefix(p.size());
      break;
    }
  }
  if (unit.ends_with("-start")) unit.remove_suffix(6);
  if (unit.empty() || unit.find('.') == std::string_view::npos && unit.find('<') == std::string_view::npos) {
    return std::nullopt;
  }
  return std::string(unit);
}

// lego 5 (log/slog text handler) after Unwrap took its RFC 3339 stamp: "INFO  message k=v ...".
bool ParseSlog(std::string_view t, absl::Time ts, size_t number, Record& r) {
  std::string_view level;
  for (std::string_view l : {"INFO ", "WARN ", "ERROR ", "DEBUG "}) {
    if (StartsWith(t, l)) level = l.substr(0, l.size() - 1);
  }
  if (level.empty()) return false;
  r = Record();
  r.line = number;
  r.ts = ts;
  r.level = level == "ERROR" ? std::string_view() : level;
  r.message = Trim(t.substr(level.size()));
  r.raw = r.message;
  // Attributes name the lineage: cert-name=NAME, or domains="a, b".
  for (std::string_view key : {"cert-name=", "domains=\"", "domain="}) {
    const size_t at = r.message.find(key);
    if (at == std::string_view::npos) continue;
    std::string_view v = r.message.substr(at + key.size());
    v = v.substr(0, v.find_first_of(key.back() == '"' ? "\"" : " "));
    r.domains = v;
    break;
  }
  return true;
}

ParseOutput ParseLegoOutput(std::string_view text, const LegoOutputOptions& options) {
  ParseOutput out;
  if (text.size() > kMaxLogBytes) {
    out.issues.push_back({0, StrCat("output larger than ", kMaxLogBytes, " bytes")});
    return out;
  }
  text = WholeLines(text, options.input_may_grow);
  LegoParser parser(options, out);
  std::optional<Record> record;
  for (const WrappedLine& w : Unwrap(text, options.fallback_time, options.utc_offset)) {
    if (w.text.size() > kMaxLogLineBytes) {
      out.issues.push_back({w.number, StrCat("line longer than ", kMaxLogLineBytes, " bytes")});
      continue;
    }
    if (w.unit == "systemd") {
      // systemd's own lines around the unit: only "Starting Renew ACME certificate for X..."
      // (NixOS) says which lineage the next run is for.
      static constexpr std::string_view kStarting = "Starting Renew ACME certificate for ";
      std::string_view m = w.text;
      if (m.size() > kStarting.size() &&
          LowerAscii(m.substr(0, kStarting.size())) == LowerAscii(kStarting)) {
        m.remove_prefix(kStarting.size());
        if (m.ends_with("...")) m.remove_suffix(3);
        parser.LineageHint(std::string(m));
      }
      continue;
    }
    if (auto name = LineageFromUnit(w.unit)) parser.LineageHint(*name);
    std::string_view t = w.text;
    while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
    Record next;
    HeadResult head = ParseHead(t, w.number, options.utc_offset, next);
    if (head == HeadResult::kNotAHead && w.outer_time &&
        ParseSlog(t, *w.outer_time, w.number, next)) {
      head = HeadResult::kHead;
    }
    if (head == HeadResult::kNotAHead && !record && KnownFatal(t)) {
      // A copy without lego's stamps ("No key found ...", "Account x is not registered").
      next = Record();
      next.line = w.number;
      next.ts = w.outer_time.value_or(options.fallback_time);
      next.raw = next.message = t;
      head = HeadResult::kHead;
    }
    switch (head) {
      case HeadResult::kHead:
        if (record) parser.Feed(*record);
        record = std::move(next);
        break;
      case HeadResult::kBadTime:
        out.issues.push_back({w.number, "record has an impossible timestamp"});
        break;
      case HeadResult::kNotAHead:
        // Lines before the first record (a banner, a shell's own output) and blank lines carry
        // nothing lego logged: continuation text only matters after a record.
        if (record) record->continuation.push_back(t);
        break;
    }
  }
  if (record) parser.Feed(*record);
  parser.End(options.input_may_grow);
  return out;
}

}  // namespace certcast::clients
