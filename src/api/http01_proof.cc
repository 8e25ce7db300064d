#include "api/http01_proof.h"

#include <algorithm>
#include <cctype>

#include "core/event_json.h"
#include "core/strings.h"
#include "nlohmann/json.hpp"

namespace certcast::api {

StatusOr<Http01ProofRequest> ParseHttp01ProofRequest(std::string_view json) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return InvalidArgumentError("body: expected a JSON object {\"name\", \"token\", \"body\"}");
  }
  Http01ProofRequest request;
  for (const auto& [key, value] : j.items()) {
    std::string* field = key == "name" ? &request.name : key == "token" ? &request.token
                       : key == "body" ? &request.body : nullptr;
    if (!field) return InvalidArgumentError(StrCat(key, ": unknown key (name, token and body only)"));
    if (!value.is_string()) return InvalidArgumentError(StrCat(key, ": expected a string"));
    *field = value.get<std::string>();
  }
  if (request.name.empty()) return InvalidArgumentError("name: missing");
  RETURN_IF_ERROR(ValidateDnsName(request.name).WithPrefix("name"));
  if (request.name.starts_with("*.")) return InvalidArgumentError("name: a wildcard has no http-01 challenge");
  const bool base64url = std::all_of(request.token.begin(), request.token.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
  if (request.token.size() < 16 || request.token.size() > 128 || !base64url) {
    return InvalidArgumentError("token: 16 to 128 base64url characters");
  }
  const bool printable = std::all_of(request.body.begin(), request.body.end(), [](char c) { return c >= 0x21 && c <= 0x7e; });
  if (request.body.empty() || request.body.size() > 512 || !printable) {
    return InvalidArgumentError("body: 1 to 512 printable ASCII characters");
  }
  return request;
}

std::string Http01ProofRequestJson(const Http01ProofRequest& request) {
  nlohmann::ordered_json j;
  j["name"] = request.name;
  j["token"] = request.token;
  j["body"] = request.body;
  return j.dump();
}

bool IsHostHttp01Name(const FleetSnapshot& snapshot, std::string_view host, std::string_view name) {
  for (const LineageEntry& lineage : snapshot.lineages) {
    if (lineage.challenge != "http-01") continue;
    if (lineage.host != host && std::find(lineage.hosts.begin(), lineage.hosts.end(), host) == lineage.hosts.end()) {
      continue;
    }
    if (std::find(lineage.names.begin(), lineage.names.end(), name) != lineage.names.end()) return true;
  }
  return false;
}

void ReadAsProof(Http01ProbeEvent& probe) {
  if (probe.error == Http01Error::kHttpStatus) probe.error = Http01Error::kWrongContent;
}

}  // namespace certcast::api
