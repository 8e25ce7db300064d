// Fuzzes the alert core's readers of outside and stored data: the body of POST /v1/silences
// (ParseSilenceRequest) and a stored incident document (FromRecord). No crash on any bytes; a
// silence it accepts passes ValidateSilence; an incident it accepts stores and reads back equal.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "alert/alert.h"
#include "alert/silence_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  auto silence = certcast::alert::ParseSilenceRequest(text, now, "fuzz");
  if (silence.ok() && !certcast::alert::ValidateSilence(*silence).ok()) std::abort();
  certcast::IncidentRecord record;
  record.id = "inc-fuzz";
  record.document_json = text;
  auto incident = certcast::alert::FromRecord(record);
  if (!incident.ok()) return 0;
  auto again = certcast::alert::FromRecord(certcast::alert::ToRecord(*incident));
  if (!again.ok() || !(*again == *incident)) std::abort();
  return 0;
}
