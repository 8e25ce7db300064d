#include "model/xgb.h"

#include <cmath>
#include <limits>

#include "core/strings.h"

namespace certcast::xgb {

Status Error(std::string_view what) {
  const char* message = XGBGetLastError();
  return InternalError(StrCat("XGBoost ", what, ": ", message != nullptr ? message : "(no message)"));
}

StatusOr<DMatrix> DMatrix::Dense(std::span<const float> values, size_t rows, size_t cols, int threads) {
  if (values.size() != rows * cols) return InternalError("DMatrix::Dense: size is not rows * cols");
  DMatrixHandle h = nullptr;
  XGB_CHECK(XGDMatrixCreateFromMat_omp(values.data(), rows, cols, std::numeric_limits<float>::quiet_NaN(), &h,
                                       threads),
            "XGDMatrixCreateFromMat_omp");
  return DMatrix(h);
}

Status DMatrix::SetFloat(const char* field, std::span<const float> values) {
  XGB_CHECK(XGDMatrixSetFloatInfo(handle_, field, values.data(), values.size()), StrCat("set ", field));
  return OkStatus();
}

StatusOr<Booster> Booster::Create(std::span<const DMatrix* const> cache) {
  std::vector<DMatrixHandle> handles;
  for (const DMatrix* d : cache) handles.push_back(d->get());
  BoosterHandle h = nullptr;
  XGB_CHECK(XGBoosterCreate(handles.data(), handles.size(), &h), "XGBoosterCreate");
  return Booster(h);
}

StatusOr<Booster> Booster::FromBuffer(std::string_view bytes) {
  BoosterHandle h = nullptr;
  XGB_CHECK(XGBoosterCreate(nullptr, 0, &h), "XGBoosterCreate");
  Booster b(h);
  XGB_CHECK(XGBoosterLoadModelFromBuffer(h, bytes.data(), bytes.size()), "load model");
  return b;
}

Status Booster::SetParam(const std::string& name, const std::string& value) {
  XGB_CHECK(XGBoosterSetParam(handle_, name.c_str(), value.c_str()), StrCat("set ", name, "=", value));
  return OkStatus();
}

Status Booster::UpdateOneIter(int iteration, const DMatrix& train) {
  XGB_CHECK(XGBoosterUpdateOneIter(handle_, iteration, train.get()), StrCat("training round ", iteration));
  return OkStatus();
}

StatusOr<std::string> Booster::Eval(int iteration, const DMatrix& data, const char* name) {
  DMatrixHandle handles[] = {data.get()};
  const char* names[] = {name};
  const char* out = nullptr;
  XGB_CHECK(XGBoosterEvalOneIter(handle_, iteration, handles, names, 1, &out), "evaluation");
  return std::string(out);
}

StatusOr<std::vector<float>> Booster::Predict(const DMatrix& data, int type, int rounds) const {
  const std::string config = StrCat(R"({"type":)", type,
                                    R"(,"training":false,"iteration_begin":0,"iteration_end":)", rounds,
                                    R"(,"strict_shape":false})");
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* result = nullptr;
  XGB_CHECK(XGBoosterPredictFromDMatrix(handle_, data.get(), config.c_str(), &shape, &dim, &result), "predict");
  size_t n = 1;
  for (bst_ulong i = 0; i < dim; ++i) n *= shape[i];
  return std::vector<float>(result, result + n);
}

StatusOr<std::vector<float>> Booster::PredictDense(std::span<const float> values, size_t rows, size_t cols,
                                                   bool margin) const {
  const std::string array = StrCat(R"({"data":[)", reinterpret_cast<uintptr_t>(values.data()),
                                   R"(,true],"shape":[)", rows, ",", cols,
                                   R"(],"strides":null,"typestr":"<f4","version":3})");
  const std::string config = StrCat(R"({"type":)", margin ? 1 : 0,
                                    R"(,"training":false,"iteration_begin":0,"iteration_end":0,"strict_shape":false,"cache_id":0,"missing":NaN})");
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* result = nullptr;
  XGB_CHECK(XGBoosterPredictFromDense(handle_, array.c_str(), config.c_str(), nullptr, &shape, &dim, &result),
            "in-place predict");
  size_t n = 1;
  for (bst_ulong i = 0; i < dim; ++i) n *= shape[i];
  return std::vector<float>(result, result + n);
}

StatusOr<std::string> Booster::SaveUbj() const {
  bst_ulong len = 0;
  const char* data = nullptr;
  XGB_CHECK(XGBoosterSaveModelToBuffer(handle_, R"({"format":"ubj"})", &len, &data), "save model");
  return std::string(data, len);
}

StatusOr<Booster> Booster::Slice(int rounds) const {
  BoosterHandle out = nullptr;
  XGB_CHECK(XGBoosterSlice(handle_, 0, rounds, 1, &out), StrCat("slice to ", rounds, " rounds"));
  return Booster(out);
}

}  // namespace certcast::xgb
