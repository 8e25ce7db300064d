// Fuzzes the model file reader (model/model.h ParseModelFile): a model file is copied between
// hosts and read by a daemon that may run as root. Beyond "no crash, no hang": a file it accepts
// scores a row with finite anomaly and tail scores (the forest's walk stays inside its trees),
// and the detectors serialize and re-read to the same scores. The XGBoost blobs are not loaded
// here (XGBoost's own loader; see docs/security.md).
//
// A model file names the feature schema and the feature names it was trained with, and the reader
// refuses any other before it reads the detectors. Every feature change moves the schema, so seed
// files go stale and the fuzzer stopped at that check: the 2026-12-05 seeds were of schema
// features-v1/67 while certcast computed features-v1/78, and every run since the bump had fuzzed the
// header and nothing behind it. So each input is read twice: as it is (the header, the metadata and
// the schema check), and, when its metadata is a JSON object, with this build's schema id and
// feature names put in (WithThisBuildsModelSchema; everything behind them). model_test's
// ModelFile.FuzzSeedsAreModelFilesThisBuildReads checks that the seeds then read.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "model/model.h"

namespace {

void Check(std::string_view bytes) {
  using namespace certcast;
  auto bundle = ParseModelFile(bytes, "fuzz");
  if (!bundle.ok()) return;
  // A row mixing ordinary values, extremes and missing values.
  std::vector<float> row(kModelWidth);
  for (int c = 0; c < kModelWidth; ++c) row[c] = c % 3 == 0 ? NAN : c % 3 == 1 ? 1e30f : 0.5f;
  const double anomaly = bundle->anomaly.Score(row.data());
  const double tail = bundle->tail.Score(row.data());
  if (!std::isfinite(anomaly) || anomaly < 0 || anomaly > 1 || !std::isfinite(tail) || tail < 0) std::abort();
  auto forest = IsolationForest::FromJson(bundle->anomaly.ToJson(), kModelWidth);
  auto tails = TailSurprise::FromJson(bundle->tail.ToJson(), kModelWidth);
  if (!forest.ok() || !tails.ok()) std::abort();
  if (forest->Score(row.data()) != anomaly || tails->Score(row.data()) != tail) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  Check(in);
  if (auto current = certcast::WithThisBuildsModelSchema(in, "fuzz"); current.ok()) Check(*current);
  return 0;
}
