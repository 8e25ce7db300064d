// Fuzzes the planner memory reader (plan/planner.h MemoryFromJson): a JSON document in the store
// that decides what certcast already did (alerts sent, renewals planned). Beyond "no crash": an
// accepted document writes back to JSON that reads back to the same memory.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "plan/planner.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace certcast::plan;
  auto memory = MemoryFromJson(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!memory.ok()) return 0;
  const std::string json = MemoryToJson(*memory);
  auto again = MemoryFromJson(json);
  if (!again.ok() || *again != *memory || MemoryToJson(*again) != json) std::abort();
  return 0;
}
