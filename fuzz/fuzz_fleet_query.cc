// Fuzzes what the fleet routes read from outside and from the store (src/api/fleet_snapshot.h):
// the stored forecast history (its round trip must be exact) and GET /v1/lineages query strings
// (split on '&' and '='; an accepted query must page within the page-size limit), and the events
// cursor of GET /v1/lineages/{cert} (an accepted cursor formats to a text that parses back to the
// same key).
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "api/fleet_snapshot.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto history = certcast::api::ForecastHistoryFromJson(input);
  if (history.ok()) {
    const std::string json = certcast::api::ForecastHistoryToJson(*history);
    auto again = certcast::api::ForecastHistoryFromJson(json);
    if (!again.ok() || certcast::api::ForecastHistoryToJson(*again) != json) std::abort();
  }
  auto cursor = certcast::api::ParseEventCursor(input);
  if (cursor.ok()) {
    const std::string text = certcast::api::FormatEventCursor(*cursor);
    auto again = certcast::api::ParseEventCursor(text);
    if (!again.ok() || again->ts_micros != cursor->ts_micros || again->hash != cursor->hash) std::abort();
  }
  std::multimap<std::string, std::string> params;
  size_t start = 0;
  while (start <= input.size()) {
    size_t end = input.find('&', start);
    if (end == std::string_view::npos) end = input.size();
    const std::string_view pair = input.substr(start, end - start);
    const size_t eq = pair.find('=');
    params.emplace(std::string(pair.substr(0, eq)),
                   eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1)));
    start = end + 1;
  }
  auto query = certcast::api::ParseLineageQuery(params);
  if (query.ok()) {
    if (query->limit < 1 || query->limit > certcast::api::kMaxPageSize || query->offset < 0) std::abort();
    certcast::api::FleetSnapshot empty;
    const auto page = certcast::api::QueryLineages(empty, *query);
    if (page.total != 0 || !page.items.empty()) std::abort();
  }
  return 0;
}
