// Outputs of a simulation: the events sink, the ground-truth JSON Lines and the metrics table.
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

#include "collect/sim/simulator.h"
#include "core/event_json.h"
#include "core/strings.h"
#include "core/time.h"

namespace certcast::sim {
namespace {

void JsonString(std::string_view s, std::string& out) {
  out += '"';
  for (char ch : s) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", ch);
      out += buf;
    } else {
      out += ch;
    }
  }
  out += '"';
}
void JsonTime(const std::optional<absl::Time>& t, std::string& out) {
  if (!t) {
    out += "null";
    return;
  }
  out += '"';
  AppendRfc3339(*t, out);
  out += '"';
}
void JsonNumber(double v, std::string& out) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  out += buf;
}

}  // namespace

JsonLinesSink::JsonLinesSink(std::FILE* out) : out_(out) {
  writer_ = std::thread([this] { WriterLoop(); });
}

JsonLinesSink::~JsonLinesSink() { Close().IgnoreError(); }

Status JsonLinesSink::Write(std::span<const Event> events, std::string& buffer) {
  buffer.clear();
  for (const Event& e : events) {
    AppendEventJson(e, buffer);
    buffer += '\n';
    if (buffer.size() > (1 << 20) || &e == &events.back()) {
      if (std::fwrite(buffer.data(), 1, buffer.size(), out_) != buffer.size()) {
        return UnavailableError(StrCat("write failed: ", std::strerror(errno)));
      }
      bytes_ += int64_t(buffer.size());
      buffer.clear();
    }
  }
  return OkStatus();
}

Status JsonLinesSink::Consume(std::span<const Event> events) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return !has_pending_; });  // keep the file in order
  if (!error_.ok()) return error_;
  std::string buffer;
  return Write(events, buffer);
}

Status JsonLinesSink::ConsumeDay(std::vector<Event>& events) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return !has_pending_; });
  if (!error_.ok()) return error_;
  // pending_ is empty (the writer cleared it) but keeps its capacity: the caller gets it back.
  std::swap(pending_, events);
  has_pending_ = true;
  cv_.notify_all();
  return OkStatus();
}

void JsonLinesSink::WriterLoop() {
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return has_pending_ || closing_; });
      if (!has_pending_) return;
    }
    // The producer does not touch pending_ while has_pending_ is set.
    Status s = Write(pending_, buffer_);
    pending_.clear();  // destroying the events here also moves their frees off the producer
    {
      std::lock_guard lock(mu_);
      if (!s.ok() && error_.ok()) error_ = s;
      has_pending_ = false;
    }
    cv_.notify_all();
  }
}

Status JsonLinesSink::Close() {
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return !has_pending_; });
    closing_ = true;
  }
  cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  std::lock_guard lock(mu_);
  return error_;
}

void WriteTruthJsonl(const SimConfig& c, const GroundTruth& truth, std::string& out) {
  out += "{\"type\":\"fleet\",\"preset\":";
  JsonString(c.preset, out);
  out += StrCat(",\"seed\":", c.seed, ",\"lineages\":", c.lineages, ",\"days\":", c.days,
                ",\"start\":");
  JsonTime(c.start, out);
  out += StrCat(",\"episodes\":", int64_t(truth.episodes.size()),
                ",\"faults\":", int64_t(truth.faults.size()),
                ",\"lookalikes\":", int64_t(truth.lookalikes.size()),
                ",\"probe_flakes\":", truth.probe_flakes, ",\"cdn_names\":", truth.cdn_names,
                "}\n");
  for (const Episode& e : truth.episodes) {
    out += "{\"type\":\"episode\",\"cert\":";
    JsonString(e.cert, out);
    out += ",\"host\":";
    JsonString(e.host, out);
    out += ",\"cause\":";
    JsonString(e.cause, out);
    out += ",\"variant\":";
    JsonString(e.variant, out);
    out += ",\"onset\":";
    JsonTime(e.onset, out);
    out += e.labelled ? ",\"labelled\":true" : ",\"labelled\":false";
    out += ",\"precursor_visible\":";
    JsonTime(e.precursor_visible, out);
    out += e.warned ? ",\"warned\":true" : ",\"warned\":false";
    out += ",\"end\":";
    JsonTime(e.end, out);
    out += ",\"outage_start\":";
    JsonTime(e.outage_start, out);
    out += ",\"outage_end\":";
    JsonTime(e.outage_end, out);
    out += ",\"outage_hours\":";
    JsonNumber(e.outage_hours, out);
    out += StrCat(",\"fault\":", e.fault_id, "}\n");
  }
  int64_t id = 0;
  for (const FaultRecord& f : truth.faults) {
    out += StrCat("{\"type\":\"fault\",\"id\":", id++, ",\"variant\":");
    JsonString(f.variant, out);
    out += ",\"cause\":";
    JsonString(f.cause, out);
    out += ",\"scope\":";
    JsonString(f.scope, out);
    out += ",\"subject\":";
    JsonString(f.subject, out);
    out += ",\"start\":";
    JsonTime(f.start, out);
    out += ",\"end\":";
    JsonTime(f.end, out);
    out += ",\"first_visible\":";
    JsonTime(f.first_visible, out);
    out += f.silent ? ",\"silent\":true" : ",\"silent\":false";
    out += ",\"ended_by\":";
    JsonString(f.ended_by, out);
    out += StrCat(",\"episodes\":", f.episodes, "}\n");
  }
  for (const LineageRecord& l : truth.lineages) {
    if (!l.retired) continue;
    out += "{\"type\":\"retirement\",\"cert\":";
    JsonString(l.cert, out);
    out += ",\"host\":";
    JsonString(l.host, out);
    out += ",\"retired\":";
    JsonTime(l.retired, out);
    out += "}\n";
  }
  for (const LookAlikeRecord& l : truth.lookalikes) {
    out += "{\"type\":\"lookalike\",\"kind\":";
    JsonString(l.kind, out);
    out += ",\"subject\":";
    JsonString(l.subject, out);
    out += ",\"start\":";
    JsonTime(l.start, out);
    out += ",\"end\":";
    JsonTime(l.end, out);
    out += "}\n";
  }
}

std::string FormatPaging(const PagingMetrics& p, std::string_view policy) {
  char line[512];
  std::string out = StrCat("\npages and incidents (", policy, "):\n");
  char share[32] = "-";
  if (p.pages) std::snprintf(share, sizeof share, "%.1f%%", 100 * p.page_share_real());
  std::snprintf(line, sizeof line,
                "  pages %lld, %lld at a real cause (%s), %.2f per 1,000 lineage-weeks\n",
                (long long)p.pages, (long long)p.pages_real, share, p.pages_per_kilo_lineage_weeks());
  out += line;
  std::snprintf(line, sizeof line,
                "  tickets %lld, %lld at a real cause; info %lld and watch %lld lineage-plans (not sent)\n",
                (long long)p.tickets, (long long)p.tickets_real, (long long)p.lineage_plans_info,
                (long long)p.lineage_plans_watched);
  out += line;
  if (p.incidents) {
    std::snprintf(line, sizeof line, "  incidents %lld opened, %lld resolved\n",
                  (long long)p.incidents_opened, (long long)p.incidents_resolved);
  } else {
    std::snprintf(line, sizeof line, "  incidents - (no grouping: every page stands alone)\n");
  }
  out += line;
  return out;
}

std::string FormatMetricsTable(std::span<const Metrics> runs) {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "%-20s %10s %9s %9s %8s %8s %7s %7s %9s %9s %8s\n", "policy",
                "outage_h", "issued", "attempts", "failed", "ratelim", "alerts", "true",
                "precision", "episodes", "w/outage");
  out += line;
  for (const Metrics& m : runs) {
    std::snprintf(line, sizeof line, "%-20s %10.1f %9lld %9lld %8lld %8lld %7lld %7lld %9.3f %9lld %8lld\n",
                  m.policy.c_str(), m.outage_hours, (long long)m.issuances, (long long)m.attempts,
                  (long long)m.failed_attempts, (long long)m.rate_limited_attempts,
                  (long long)m.alerts, (long long)m.alerts_true, m.alert_precision(),
                  (long long)m.episodes, (long long)m.episodes_with_outage);
    out += line;
  }
  for (const Metrics& m : runs) {
    if (m.policy != "none") out += FormatPaging(m.paging, m.policy);
  }
  for (const Metrics& m : runs) {
    out += StrCat("\nper cause (", m.policy, "):\n");
    std::snprintf(line, sizeof line, "  %-20s %9s %8s %9s %10s %12s\n", "cause", "episodes",
                  "warned", "w/outage", "outage_h", "alerts_true");
    out += line;
    for (const auto& [cause, cm] : m.by_cause) {
      std::snprintf(line, sizeof line, "  %-20s %9lld %8lld %9lld %10.1f %12lld\n", cause.c_str(),
                    (long long)cm.episodes, (long long)cm.episodes_warned,
                    (long long)cm.episodes_with_outage, cm.outage_hours,
                    (long long)cm.alerts_true);
      out += line;
    }
  }
  return out;
}

void AppendMetricsJson(const Metrics& m, std::string& out) {
  out += "{\"policy\":";
  JsonString(m.policy, out);
  out += ",\"outage_hours\":";
  JsonNumber(m.outage_hours, out);
  out += ",\"revoked_hours\":";
  JsonNumber(m.revoked_hours, out);
  out += StrCat(",\"issuances\":", m.issuances, ",\"attempts\":", m.attempts,
                ",\"failed_attempts\":", m.failed_attempts,
                ",\"rate_limited_attempts\":", m.rate_limited_attempts,
                ",\"dry_runs\":", m.dry_runs, ",\"forced_renewals\":", m.forced_renewals,
                ",\"reloads\":", m.reloads, ",\"switches\":", m.switches,
                ",\"invalid_actions\":", m.invalid_actions, ",\"alerts\":", m.alerts,
                ",\"alerts_true\":", m.alerts_true, ",\"alert_precision\":");
  JsonNumber(m.alert_precision(), out);
  out += StrCat(",\"episodes\":", m.episodes, ",\"episodes_warned\":", m.episodes_warned,
                ",\"episodes_with_outage\":", m.episodes_with_outage, ",\"events\":", m.events,
                ",\"final_trust\":");
  JsonNumber(m.final_trust, out);
  const PagingMetrics& p = m.paging;
  out += StrCat(",\"paging\":{\"pages\":", p.pages, ",\"pages_real\":", p.pages_real,
                ",\"tickets\":", p.tickets, ",\"tickets_real\":", p.tickets_real,
                ",\"lineage_plans_info\":", p.lineage_plans_info,
                ",\"lineage_plans_watched\":", p.lineage_plans_watched, ",\"incidents_opened\":");
  if (p.incidents) {
    out += StrCat(p.incidents_opened, ",\"incidents_resolved\":", p.incidents_resolved);
  } else {
    out += "null,\"incidents_resolved\":null";
  }
  out += ",\"pages_real_share\":";
  JsonNumber(p.page_share_real(), out);
  out += ",\"pages_per_1000_lineage_weeks\":";
  JsonNumber(p.pages_per_kilo_lineage_weeks(), out);
  out += "}";
  out += ",\"by_cause\":{";
  bool first = true;
  for (const auto& [cause, cm] : m.by_cause) {
    if (!first) out += ',';
    first = false;
    JsonString(cause, out);
    out += StrCat(":{\"episodes\":", cm.episodes, ",\"episodes_warned\":", cm.episodes_warned,
                  ",\"episodes_with_outage\":", cm.episodes_with_outage,
                  ",\"alerts_true\":", cm.alerts_true, ",\"outage_hours\":");
    JsonNumber(cm.outage_hours, out);
    out += '}';
  }
  out += "}}";
}

}  // namespace certcast::sim
