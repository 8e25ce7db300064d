// The one place that talks to XGBoost's C API: RAII handles, every return code checked, and the
// library's own message (XGBGetLastError) kept in the Status.
#pragma once

#include <xgboost/c_api.h>

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace certcast::xgb {

// Status for a failed XGBoost call: "XGBoost <what>: <XGBGetLastError()>".
Status Error(std::string_view what);
#define XGB_CHECK(call, what)                            \
  do {                                                   \
    if ((call) != 0) return ::certcast::xgb::Error(what); \
  } while (0)

// A dense row-major float matrix as a DMatrix (NaN = missing).
class DMatrix {
 public:
  static StatusOr<DMatrix> Dense(std::span<const float> values, size_t rows, size_t cols, int threads);
  DMatrix(DMatrix&& o) noexcept : handle_(o.handle_) { o.handle_ = nullptr; }
  DMatrix& operator=(DMatrix&& o) noexcept { std::swap(handle_, o.handle_); return *this; }
  DMatrix(const DMatrix&) = delete;
  ~DMatrix() { if (handle_ != nullptr) XGDMatrixFree(handle_); }

  Status SetFloat(const char* field, std::span<const float> values);
  DMatrixHandle get() const { return handle_; }

 private:
  explicit DMatrix(DMatrixHandle h) : handle_(h) {}
  DMatrixHandle handle_ = nullptr;
};

class Booster {
 public:
  // A booster to train on `cache` (the training and evaluation matrices).
  static StatusOr<Booster> Create(std::span<const DMatrix* const> cache);
  static StatusOr<Booster> FromBuffer(std::string_view bytes);
  Booster(Booster&& o) noexcept : handle_(o.handle_) { o.handle_ = nullptr; }
  Booster& operator=(Booster&& o) noexcept { std::swap(handle_, o.handle_); return *this; }
  Booster(const Booster&) = delete;
  ~Booster() { if (handle_ != nullptr) XGBoosterFree(handle_); }

  Status SetParam(const std::string& name, const std::string& value);
  Status UpdateOneIter(int iteration, const DMatrix& train);
  // Evaluation string of one round ("[3]\tvalid-aucpr:0.41").
  StatusOr<std::string> Eval(int iteration, const DMatrix& data, const char* name);
  // Predictions of type 0 (value), 1 (margin), 2 (exact SHAP), 3 (approximate SHAP); `rounds` = 0
  // uses every tree. SHAP output is rows x (cols + 1), the last column the bias.
  StatusOr<std::vector<float>> Predict(const DMatrix& data, int type, int rounds = 0) const;
  // In-place prediction from a dense row-major array (no DMatrix copy): the scoring hot path.
  StatusOr<std::vector<float>> PredictDense(std::span<const float> values, size_t rows, size_t cols,
                                            bool margin) const;
  StatusOr<std::string> SaveUbj() const;
  // The first `rounds` boosting rounds as a new booster (after early stopping).
  StatusOr<Booster> Slice(int rounds) const;
  BoosterHandle get() const { return handle_; }

 private:
  explicit Booster(BoosterHandle h) : handle_(h) {}
  BoosterHandle handle_ = nullptr;
};

}  // namespace certcast::xgb
