// Checked reads of the model file's metadata JSON (model.cc, anomaly.cc). A model file is outside
// data, and nlohmann's get<T> converts a number of the wrong kind or range with static_cast: a
// float beyond float's range, or any float read as an integer, is undefined behaviour, and a huge
// integer read as int32 wraps to a plausible index. Each reader here checks kind and range first.
// They throw std::runtime_error naming `what`; the metadata readers catch it and return DataLoss,
// so no exception leaves the model library.
#pragma once

#include <cstdint>
#include <string_view>

#include "nlohmann/json.hpp"

namespace certcast::metadata_json {

// Nesting deeper than this is refused while parsing (nlohmann's dump and comparisons recurse, so
// a deeply nested value would overflow the stack later). The model's metadata nests 4 deep.
inline constexpr int kMaxDepth = 32;

// Parses `text`, refusing nesting deeper than kMaxDepth.
nlohmann::json Parse(std::string_view text);
// An integer in [low, high].
int64_t Integer(const nlohmann::json& value, int64_t low, int64_t high, std::string_view what);
// A finite number.
double Finite(const nlohmann::json& value, std::string_view what);
// A finite number within float's range.
float FiniteFloat(const nlohmann::json& value, std::string_view what);

}  // namespace certcast::metadata_json
