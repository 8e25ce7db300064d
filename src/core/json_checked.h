// Checked reads of JSON that comes from outside or from storage, for the readers that use
// nlohmann (the model file's metadata, the planner's memory). nlohmann's get<T> converts a number
// of the wrong kind or range with static_cast: a float beyond float's range, or any float read as
// an integer, is undefined behaviour, and a huge integer read as int32 wraps to a plausible
// index. Each reader here checks kind and range first. They throw std::runtime_error naming
// `what`; the caller catches it (with nlohmann's own exceptions) and returns DataLoss, so no
// exception leaves its library. Header-only: core itself does not link nlohmann.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string_view>

#include "core/strings.h"
#include "nlohmann/json.hpp"

namespace certcast::json_checked {

// Nesting deeper than this is refused while parsing (nlohmann's dump and comparisons recurse, so
// a deeply nested value would overflow the stack later). The model's metadata and the planner's
// memory nest 4 deep.
inline constexpr int kMaxDepth = 32;

// Parses `text`, refusing nesting deeper than kMaxDepth; nlohmann's parse errors propagate too.
inline nlohmann::json Parse(std::string_view text) {
  return nlohmann::json::parse(text, [](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
    if (depth > kMaxDepth) throw std::runtime_error(StrCat("JSON nested deeper than ", kMaxDepth, " levels"));
    return true;
  });
}

// An integer in [low, high].
inline int64_t Integer(const nlohmann::json& value, int64_t low, int64_t high, std::string_view what) {
  bool in_range = false;
  int64_t n = 0;
  if (value.is_number_unsigned()) {
    const uint64_t u = value.get<uint64_t>();
    in_range = u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    n = in_range ? static_cast<int64_t>(u) : 0;
  } else if (value.is_number_integer()) {
    n = value.get<int64_t>();
    in_range = true;
  } else {
    throw std::runtime_error(StrCat(what, " is not an integer"));
  }
  if (!in_range || n < low || n > high) {
    throw std::runtime_error(StrCat(what, " is ", value.dump(), ", outside [", low, ", ", high, "]"));
  }
  return n;
}

// A finite number.
inline double Finite(const nlohmann::json& value, std::string_view what) {
  if (!value.is_number()) throw std::runtime_error(StrCat(what, " is not a number"));
  const double d = value.get<double>();
  if (!std::isfinite(d)) throw std::runtime_error(StrCat(what, " is not finite"));
  return d;
}

// A finite number within float's range.
inline float FiniteFloat(const nlohmann::json& value, std::string_view what) {
  const double d = Finite(value, what);
  if (std::abs(d) > std::numeric_limits<float>::max()) {
    throw std::runtime_error(StrCat(what, " is ", value.dump(), ", beyond a float's range"));
  }
  return static_cast<float>(d);
}

}  // namespace certcast::json_checked
