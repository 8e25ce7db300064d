// GET /metrics: the Prometheus text exposition format (version 0.0.4) of the fleet snapshot and
// the server's own counters and histograms. Names and labels: docs/api.md, "Metrics".
//
// Per-certificate series carry the labels cert, host, ca and client: one series per lineage and
// metric (a lineage's host, CA and client change rarely, so they do not multiply series over time
// the way a serial or an error text would; those are never labels). 5,000 lineages give about
// 20,000 per-certificate series.
//
// Thread safety: Counter and Histogram are lock-free and may be updated from any thread while
// RenderMetrics reads them.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/fleet_snapshot.h"

namespace certcast::api {

class Counter {
 public:
  void Add(int64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// A cumulative histogram with fixed upper bounds (seconds), as Prometheus expects.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double seconds);
  // Bucket counts are cumulative (le), the last is +Inf.
  struct Reading {
    std::vector<double> bounds;
    std::vector<int64_t> cumulative;  // bounds.size() + 1 entries
    double sum = 0;
    int64_t count = 0;
  };
  Reading Read() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<int64_t>[]> buckets_;  // not cumulative
  std::atomic<int64_t> count_{0};
  std::atomic<uint64_t> sum_micros_{0};
};

// Request latency buckets (5 ms .. 10 s) and plan buckets (10 ms .. 5 min).
std::vector<double> RequestBuckets();
std::vector<double> PlanBuckets();

// The server's own instruments.
class ServerMetrics {
 public:
  ServerMetrics();
  Counter ingest_requests;
  Counter events_stored, events_duplicate, events_rejected;
  Counter plans_succeeded, plans_failed;
  Histogram plan_duration;
  // Per (method, route pattern) request durations; routes are the registered patterns
  // (/v1/lineages/{cert}), never raw paths, so the label set is bounded.
  Histogram& RequestHistogram(const std::string& method, const std::string& route);
  struct RouteReading {
    std::string method, route;
    Histogram::Reading reading;
  };
  std::vector<RouteReading> ReadRequests() const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<Histogram>> requests_;
};

// The exposition text. `snapshot` may be null (the first plan has not finished yet): only the
// server's own metrics are written then.
std::string RenderMetrics(const FleetSnapshot* snapshot, const ServerMetrics& server);

// Escapes a label value as the text format requires (backslash, double quote, line feed).
std::string EscapeLabelValue(std::string_view value);

}  // namespace certcast::api
