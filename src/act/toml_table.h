// Typed reads from one TOML table for config files (the daemon's, `certcast serve --config`),
// with the path of each key in errors ("policy.alert_risk: expected a number in [0, 1]").
#pragma once

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/time/time.h"
#include "core/status.h"
#include "core/strings.h"
#include "core/time.h"
#include "toml++/toml.h"

namespace certcast::act {

// Whether `name` can be an environment variable's name: [A-Za-z_][A-Za-z0-9_]*.
inline bool IsVariableName(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

// Reads typed values out of one TOML table and remembers which keys were read, so unknown keys
// (typos) are reported.
class TomlTable {
 public:
  TomlTable(const toml::table* table, std::string path) : table_(table), path_(std::move(path)) {}

  std::string Key(std::string_view key) const {
    return path_.empty() ? std::string(key) : StrCat(path_, ".", key);
  }

  template <typename T>
  Status Get(std::string_view key, T& out) {
    read_.insert(std::string(key));
    if (!table_) return OkStatus();
    const toml::node* node = table_->get(key);
    if (!node) return OkStatus();
    if constexpr (std::is_same_v<T, std::string>) {
      if (!node->is_string()) return InvalidArgumentError(StrCat(Key(key), ": expected a string"));
      out = node->value<std::string>().value();
    } else if constexpr (std::is_same_v<T, bool>) {
      if (!node->is_boolean()) return InvalidArgumentError(StrCat(Key(key), ": expected true or false"));
      out = node->value<bool>().value();
    } else if constexpr (std::is_same_v<T, int> || std::is_same_v<T, int64_t>) {
      if (!node->is_integer()) return InvalidArgumentError(StrCat(Key(key), ": expected an integer"));
      out = static_cast<T>(node->value<int64_t>().value());
    } else if constexpr (std::is_same_v<T, double>) {
      if (!node->is_number()) return InvalidArgumentError(StrCat(Key(key), ": expected a number"));
      out = node->value<double>().value();
    } else if constexpr (std::is_same_v<T, absl::Duration>) {
      if (!node->is_string()) {
        return InvalidArgumentError(StrCat(Key(key), ": expected a duration string like \"36h\""));
      }
      auto d = ParseDurationFlag(node->value<std::string>().value());
      if (!d.ok()) return InvalidArgumentError(StrCat(Key(key), ": ", d.status().message()));
      out = *d;
    } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
      const toml::array* array = node->as_array();
      if (!array) return InvalidArgumentError(StrCat(Key(key), ": expected an array of strings"));
      out.clear();
      for (const toml::node& item : *array) {
        if (!item.is_string()) {
          return InvalidArgumentError(StrCat(Key(key), ": expected an array of strings"));
        }
        out.push_back(item.value<std::string>().value());
      }
    } else if constexpr (std::is_same_v<T, std::vector<int>>) {
      const toml::array* array = node->as_array();
      if (!array) return InvalidArgumentError(StrCat(Key(key), ": expected an array of integers"));
      out.clear();
      for (const toml::node& item : *array) {
        if (!item.is_integer()) return InvalidArgumentError(StrCat(Key(key), ": expected an array of integers"));
        out.push_back(static_cast<int>(item.value<int64_t>().value()));
      }
    } else if constexpr (std::is_same_v<T, std::map<std::string, std::string>>) {
      // An environment: { NAME = "value", ... }.
      const toml::table* table = node->as_table();
      if (!table) return InvalidArgumentError(StrCat(Key(key), ": expected a table of strings"));
      out.clear();
      for (const auto& [name, entry] : *table) {
        const std::string_view n = name.str();
        if (!IsVariableName(n)) {
          return InvalidArgumentError(
              StrCat(Key(key), ": \"", n, "\" is not a variable name ([A-Za-z_][A-Za-z0-9_]*)"));
        }
        if (!entry.is_string()) {
          return InvalidArgumentError(StrCat(Key(key), ".", n, ": expected a string"));
        }
        const std::string text = entry.template value<std::string>().value();
        if (text.find('\0') != std::string::npos) {
          return InvalidArgumentError(StrCat(Key(key), ".", n, ": contains a NUL byte"));
        }
        out[std::string(n)] = text;
      }
    }
    return OkStatus();
  }

  Status Probability(std::string_view key, double& out) {
    RETURN_IF_ERROR(Get(key, out));
    if (!(out >= 0 && out <= 1)) {
      return InvalidArgumentError(StrCat(Key(key), ": expected a number in [0, 1]"));
    }
    return OkStatus();
  }

  Status NonNegative(std::string_view key, int& out) {
    RETURN_IF_ERROR(Get(key, out));
    if (out < 0) return InvalidArgumentError(StrCat(Key(key), ": must not be negative"));
    return OkStatus();
  }

  void MarkRead(std::string_view key) { read_.insert(std::string(key)); }

  Status CheckUnknown() const {
    if (!table_) return OkStatus();
    for (const auto& [key, node] : *table_) {
      if (!read_.count(std::string(key.str()))) {
        return InvalidArgumentError(StrCat(Key(key.str()), ": unknown key"));
      }
    }
    return OkStatus();
  }

 private:
  const toml::table* table_;
  std::string path_;
  std::set<std::string> read_;
};

// Parses TOML text; a syntax error names its line ("line 3: expected ...").
inline StatusOr<toml::table> ParseToml(std::string_view text) {
  try {
    return toml::parse(text);
  } catch (const toml::parse_error& e) {
    return InvalidArgumentError(StrCat("line ", static_cast<int64_t>(e.source().begin.line), ": ",
                                       std::string(e.description())));
  }
}

}  // namespace certcast::act
