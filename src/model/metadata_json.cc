#include "model/metadata_json.h"

#include <cmath>
#include <limits>
#include <stdexcept>

#include "core/strings.h"

namespace certcast::metadata_json {

nlohmann::json Parse(std::string_view text) {
  return nlohmann::json::parse(text, [](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
    if (depth > kMaxDepth) throw std::runtime_error(StrCat("JSON nested deeper than ", kMaxDepth, " levels"));
    return true;
  });
}

int64_t Integer(const nlohmann::json& value, int64_t low, int64_t high, std::string_view what) {
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

double Finite(const nlohmann::json& value, std::string_view what) {
  if (!value.is_number()) throw std::runtime_error(StrCat(what, " is not a number"));
  const double d = value.get<double>();
  if (!std::isfinite(d)) throw std::runtime_error(StrCat(what, " is not finite"));
  return d;
}

float FiniteFloat(const nlohmann::json& value, std::string_view what) {
  const double d = Finite(value, what);
  if (std::abs(d) > std::numeric_limits<float>::max()) {
    throw std::runtime_error(StrCat(what, " is ", value.dump(), ", beyond a float's range"));
  }
  return static_cast<float>(d);
}

}  // namespace certcast::metadata_json
