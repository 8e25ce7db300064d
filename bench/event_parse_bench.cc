// Parsing and serializing events-v1 lines on one core, without the store. Reads the lines of
// $CERTCAST_BENCH_EVENTS (bench/ingest.sh generates it); falls back to a small built-in mix.
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "core/event_json.h"

namespace {

const std::vector<std::string>& Lines() {
  static const std::vector<std::string> lines = [] {
    std::vector<std::string> out;
    if (const char* path = std::getenv("CERTCAST_BENCH_EVENTS")) {
      std::ifstream in(path);
      std::string line;
      while (std::getline(in, line) && out.size() < 2000000) out.push_back(line);
    }
    if (out.empty()) {
      out.push_back(R"({"ts":"2026-11-20T06:00:00Z","type":"dns","name":"shop.example.com","rtype":"A","rcode":"NOERROR","values":["203.0.113.9"]})");
      out.push_back(R"({"ts":"2026-12-31T12:00:00Z","type":"renewal","cert":"shop","outcome":"failure","error":"urn:ietf:params:acme:error:connection","challenge":"http-01"})");
      out.push_back(R"({"ts":"2026-11-20T06:00:00.5Z","type":"tls_probe","endpoint":"203.0.113.9:443","sni":"shop.example.com","cert":"shop","outcome":"ok","serial":"04ab","not_after":"2027-01-29T23:00:00Z","latency_ms":12.25,"tls_version":"TLSv1.3"})");
    }
    return out;
  }();
  return lines;
}

void BM_ParseEventLines(benchmark::State& state) {
  const auto& lines = Lines();
  certcast::EventParser parser;
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    auto e = parser.Parse(lines[i]);
    benchmark::DoNotOptimize(e);
    bytes += lines[i].size();
    if (++i == lines.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_ParseEventLines)->MinTime(3.0);

void BM_ParseAndCanonicalize(benchmark::State& state) {
  const auto& lines = Lines();
  certcast::EventParser parser;
  std::string out;
  size_t i = 0;
  for (auto _ : state) {
    auto e = parser.Parse(lines[i]);
    out.clear();
    if (e.ok()) certcast::AppendEventJson(*e, out);
    benchmark::DoNotOptimize(out);
    if (++i == lines.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseAndCanonicalize)->MinTime(3.0);

}  // namespace

BENCHMARK_MAIN();
