// Fuzzes the model file reader (model/model.h ParseModelFile): a model file is copied between
// hosts and read by a daemon that may run as root. Beyond "no crash, no hang": a file it accepts
// scores a row with finite anomaly and tail scores (the forest's walk stays inside its trees),
// and the detectors serialize and re-read to the same scores. The XGBoost blobs are not loaded
// here (XGBoost's own loader; see docs/security.md).
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "model/model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace certcast;
  auto bundle = ParseModelFile(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
  if (!bundle.ok()) return 0;
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
  return 0;
}
