#include "core/event_json.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/event_names.h"
#include "core/strings.h"
#include "core/utf8.h"

#include "core/time.h"
#include "simdjson.h"

namespace certcast {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

// Bounds on field sizes. Identifiers (lineage, host, serial, URL) are short in every real
// client; `detail` carries a CA's problem text, which can include a whole HTML error page, so it
// gets more room but is still bounded.
constexpr size_t kMaxFieldBytes = 4096;
constexpr size_t kMaxDetailBytes = 65536;
constexpr size_t kMaxListItems = 1024;  // SANs per certificate are capped at 100 by LE

// Field tables, one per event type, in the spec's order. Slots 0 and 1 are always ts and type.
// The serializer writes fields in the same order, so a table is also the canonical order.
constexpr size_t kMaxSlots = 16;
using FieldTable = std::vector<std::string_view>;

const std::array<FieldTable, kEventTypeCount>& Tables() {
  static const std::array<FieldTable, kEventTypeCount> tables = {{
      {"ts", "type", "cert", "host", "names", "client", "client_version", "ca", "challenge",
       "alt_challenges", "alt_cas", "ari", "renew_rule", "profile"},
      {"ts", "type", "cert", "serial", "not_before", "not_after", "ca", "names"},
      {"ts", "type", "cert", "outcome", "error", "detail", "challenge", "ca", "duration_ms",
       "dry_run", "trigger"},
      {"ts", "type", "cert", "host", "outcome", "detail"},
      {"ts", "type", "endpoint", "sni", "cert", "outcome", "error", "serial", "not_after",
       "latency_ms", "tls_version", "cipher", "ocsp_stapled", "sct_count"},
      {"ts", "type", "name", "rtype", "rcode", "values", "dnssec", "rrsig_expires", "latency_ms"},
      {"ts", "type", "name", "outcome", "error", "status", "vantage", "latency_ms"},
      {"ts", "type", "name", "outcome", "error", "propagation_ms"},
      {"ts", "type", "ca", "outcome", "status", "latency_ms", "error"},
      {"ts", "type", "cert", "ca", "window_start", "window_end", "retry_after_s",
       "explanation_url"},
      {"ts", "type", "host", "offset_ms", "synced", "source"},
      {"ts", "type", "host", "disk_free_bytes", "disk_total_bytes", "scheduler_last_run",
       "client_version", "event"},
      {"ts", "type", "kind", "host", "cert", "expires", "present"},
      {"ts", "type", "name", "expires", "status"},
  }};
  return tables;
}

// Reads the fields of one object into slots by name, then hands out typed values with errors
// that name the field. Each getter returns a Status so the type parsers stay flat.
class Reader {
 public:
  Reader(EventType type, const FieldTable& table) : type_(type), table_(table) {}

  Status Collect(simdjson::dom::object obj) {
    for (auto field : obj) {
      const std::string_view key = field.key;
      for (size_t i = 0; i < table_.size(); ++i) {
        if (table_[i] == key) {
          if (present_ & (1u << i)) {
            return InvalidArgumentError(StrCat("field \"", key, "\" appears twice"));
          }
          present_ |= 1u << i;
          slots_[i] = field.value;
          break;
        }
      }
      // Unknown keys are ignored: producers newer than us may add fields.
    }
    return OkStatus();
  }

  bool Has(int slot) const {
    return (present_ & (1u << slot)) && !slots_[slot].is_null();
  }

  Status Missing(int slot) const {
    return InvalidArgumentError(StrCat("missing required field \"", table_[slot],
                                                   "\" for type \"", ToString(type_), "\""));
  }
  Status WrongType(int slot, std::string_view want) const {
    return InvalidArgumentError(
        StrCat("field \"", table_[slot], "\": expected ", want, ", got ",
                     TypeName(slots_[slot].type())));
  }
  Status BadValue(int slot, std::string_view value, std::string_view why) const {
    return InvalidArgumentError(StrCat("field \"", table_[slot], "\": \"",
                                                   ToValidUtf8(value, 80), "\" ", why));
  }

  Status RawString(int slot, std::string_view& out, size_t max = kMaxFieldBytes) const {
    if (!Has(slot)) return Missing(slot);
    if (slots_[slot].get_string().get(out) != simdjson::SUCCESS) return WrongType(slot, "string");
    if (out.size() > max) {
      return InvalidArgumentError(
          StrCat("field \"", table_[slot], "\": longer than ", max, " bytes"));
    }
    return OkStatus();
  }

  Status String(int slot, std::string& out, size_t max = kMaxFieldBytes) const {
    std::string_view v;
    RETURN_IF_ERROR(RawString(slot, v, max));
    if (v.empty()) return BadValue(slot, v, "is empty");
    out.assign(v);
    return OkStatus();
  }
  Status OptString(int slot, std::optional<std::string>& out,
                         size_t max = kMaxFieldBytes) const {
    if (!Has(slot)) return OkStatus();
    std::string_view v;
    RETURN_IF_ERROR(RawString(slot, v, max));
    out.emplace(v);
    return OkStatus();
  }

  Status Name(int slot, std::string& out) const {
    RETURN_IF_ERROR(String(slot, out));
    Status s = ValidateDnsName(out);
    if (!s.ok()) return BadValue(slot, out, s.message());
    return OkStatus();
  }

  Status Time(int slot, absl::Time& out) const {
    std::string_view v;
    RETURN_IF_ERROR(RawString(slot, v));
    auto t = ParseRfc3339(v);
    if (!t.ok()) {
      return InvalidArgumentError(StrCat("field \"", table_[slot], "\": ",
                                                     t.status().message()));
    }
    out = *t;
    return OkStatus();
  }
  Status OptTime(int slot, std::optional<absl::Time>& out) const {
    if (!Has(slot)) return OkStatus();
    absl::Time t;
    RETURN_IF_ERROR(Time(slot, t));
    out = t;
    return OkStatus();
  }

  Status Bool(int slot, bool& out) const {
    if (!Has(slot)) return Missing(slot);
    if (slots_[slot].get_bool().get(out) != simdjson::SUCCESS) return WrongType(slot, "boolean");
    return OkStatus();
  }
  Status OptBool(int slot, std::optional<bool>& out) const {
    if (!Has(slot)) return OkStatus();
    bool b = false;
    RETURN_IF_ERROR(Bool(slot, b));
    out = b;
    return OkStatus();
  }

  // Numbers: JSON has one number type, so 12 and 12.0 are both accepted where an integer is
  // wanted; 12.5 is not.
  Status Double(int slot, double& out, bool non_negative) const {
    if (!Has(slot)) return Missing(slot);
    if (slots_[slot].get_double().get(out) != simdjson::SUCCESS) return WrongType(slot, "number");
    if (!std::isfinite(out)) return WrongType(slot, "finite number");
    if (non_negative && out < 0) {
      return InvalidArgumentError(
          StrCat("field \"", table_[slot], "\": ", out, " is negative"));
    }
    return OkStatus();
  }
  Status OptDouble(int slot, std::optional<double>& out, bool non_negative = true) const {
    if (!Has(slot)) return OkStatus();
    double d = 0;
    RETURN_IF_ERROR(Double(slot, d, non_negative));
    out = d;
    return OkStatus();
  }
  Status OptInt(int slot, std::optional<int64_t>& out) const {
    if (!Has(slot)) return OkStatus();
    const element& e = slots_[slot];
    int64_t i = 0;
    if (e.get_int64().get(i) == simdjson::SUCCESS) {
      // fine
    } else {
      double d;
      if (e.get_double().get(d) != simdjson::SUCCESS) return WrongType(slot, "integer");
      if (!(std::floor(d) == d && std::fabs(d) < 9e15)) {
        return InvalidArgumentError(
            StrCat("field \"", table_[slot], "\": ", d, " is not an integer"));
      }
      i = static_cast<int64_t>(d);
    }
    if (i < 0) {
      return InvalidArgumentError(
          StrCat("field \"", table_[slot], "\": ", i, " is negative"));
    }
    out = i;
    return OkStatus();
  }

  // A string from a closed enumeration; `names[i]` is the text of enum value i.
  template <typename E, size_t N>
  Status Enum(int slot, E& out, const std::array<std::string_view, N>& names) const {
    std::string_view v;
    RETURN_IF_ERROR(RawString(slot, v));
    for (size_t i = 0; i < N; ++i) {
      if (names[i] == v) {
        out = static_cast<E>(i);
        return OkStatus();
      }
    }
    return BadValue(slot, v, StrCat("is not one of ", StrJoin(names, ", ")));
  }
  template <typename E, size_t N>
  Status OptEnum(int slot, std::optional<E>& out,
                       const std::array<std::string_view, N>& names) const {
    if (!Has(slot)) return OkStatus();
    E e{};
    RETURN_IF_ERROR(Enum(slot, e, names));
    out = e;
    return OkStatus();
  }

  // A list of strings; each item checked by `check` (which may rewrite it).
  template <typename Check>
  Status StringList(int slot, std::vector<std::string>& out, bool required,
                          Check check) const {
    if (!Has(slot)) return required ? Missing(slot) : OkStatus();
    simdjson::dom::array arr;
    if (slots_[slot].get_array().get(arr) != simdjson::SUCCESS) {
      return WrongType(slot, "array of strings");
    }
    if (arr.size() > kMaxListItems) {
      return InvalidArgumentError(
          StrCat("field \"", table_[slot], "\": more than ", kMaxListItems, " items"));
    }
    out.clear();
    out.reserve(arr.size());
    for (element item : arr) {
      std::string_view v;
      if (item.get_string().get(v) != simdjson::SUCCESS) {
        return InvalidArgumentError(
            StrCat("field \"", table_[slot], "\": expected array of strings, found ",
                         TypeName(item.type())));
      }
      if (v.size() > kMaxFieldBytes) {
        return InvalidArgumentError(
            StrCat("field \"", table_[slot], "\": item longer than ", kMaxFieldBytes));
      }
      Status s = check(v);
      if (!s.ok()) return BadValue(slot, v, s.message());
      out.emplace_back(v);
    }
    return OkStatus();
  }

  static std::string_view TypeName(element_type t) {
    switch (t) {
      case element_type::ARRAY: return "array";
      case element_type::OBJECT: return "object";
      case element_type::INT64:
      case element_type::UINT64:
      case element_type::DOUBLE: return "number";
      case element_type::STRING: return "string";
      case element_type::BOOL: return "boolean";
      case element_type::NULL_VALUE: return "null";
    }
    return "unknown";
  }

 private:
  EventType type_;
  const FieldTable& table_;
  std::array<element, kMaxSlots> slots_{};
  uint32_t present_ = 0;
};


Status NoCheck(std::string_view) { return OkStatus(); }
Status NonEmpty(std::string_view v) {
  return v.empty() ? InvalidArgumentError("is empty") : OkStatus();
}

// "host:port" or "[v6]:port", port 1..65535.
Status ValidateEndpoint(std::string_view v) {
  const size_t colon = v.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return InvalidArgumentError("is not host:port");
  }
  const std::string_view port = v.substr(colon + 1);
  unsigned p = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (ec != std::errc() || end != port.data() + port.size() || p == 0 || p > 65535) {
    return InvalidArgumentError("has no valid port (1-65535)");
  }
  return OkStatus();
}

// The error of a renewal: an ACME problem type URN or one of the client-side codes.
Status ValidateRenewalError(std::string_view v) {
  static constexpr std::string_view kUrn = "urn:ietf:params:acme:error:";
  static constexpr std::array<std::string_view, 6> kCodes = {"timeout", "network", "dns_api",
                                                             "hook",    "local",   "unknown"};
  if (v.size() > kUrn.size() && v.substr(0, kUrn.size()) == kUrn) return OkStatus();
  for (auto c : kCodes) {
    if (v == c) return OkStatus();
  }
  return InvalidArgumentError(StrCat(
      "is neither an ACME problem URN (urn:ietf:params:acme:error:...) nor one of ",
      StrJoin(kCodes, ", ")));
}

Status ParseConfig(const Reader& r, ConfigEvent& e) {
  RETURN_IF_ERROR(r.String(2, e.cert));
  RETURN_IF_ERROR(r.String(3, e.host));
  RETURN_IF_ERROR(r.StringList(4, e.names, true, ValidateDnsName));
  if (e.names.empty()) return InvalidArgumentError("field \"names\": is empty");
  RETURN_IF_ERROR(r.Enum(5, e.client, event_names::kClients));
  RETURN_IF_ERROR(r.OptString(6, e.client_version));
  RETURN_IF_ERROR(r.String(7, e.ca));
  RETURN_IF_ERROR(r.Enum(8, e.challenge, event_names::kChallenges));
  std::vector<std::string> alt;
  RETURN_IF_ERROR(r.StringList(9, alt, false, [](std::string_view v) {
    return ChallengeFromString(v) ? OkStatus()
                                  : InvalidArgumentError(
                                        "is not one of http-01, dns-01, tls-alpn-01");
  }));
  for (const auto& a : alt) e.alt_challenges.push_back(*ChallengeFromString(a));
  RETURN_IF_ERROR(r.StringList(10, e.alt_cas, false, NonEmpty));
  RETURN_IF_ERROR(r.Bool(11, e.ari));
  RETURN_IF_ERROR(r.OptString(12, e.renew_rule));
  if (e.renew_rule && !ParseRenewRule(*e.renew_rule)) {
    return r.BadValue(12, *e.renew_rule,
                      "is not fraction:F (0<F<1), days_left:N or after_issue_days:N");
  }
  RETURN_IF_ERROR(r.OptString(13, e.profile));
  return OkStatus();
}

Status ParseIssued(const Reader& r, IssuedEvent& e) {
  RETURN_IF_ERROR(r.String(2, e.cert));
  RETURN_IF_ERROR(r.String(3, e.serial));
  RETURN_IF_ERROR(r.Time(4, e.not_before));
  RETURN_IF_ERROR(r.Time(5, e.not_after));
  if (e.not_after <= e.not_before) {
    return InvalidArgumentError("field \"not_after\": not after \"not_before\"");
  }
  RETURN_IF_ERROR(r.String(6, e.ca));
  RETURN_IF_ERROR(r.StringList(7, e.names, false, ValidateDnsName));
  return OkStatus();
}

Status ParseRenewal(const Reader& r, RenewalEvent& e) {
  RETURN_IF_ERROR(r.String(2, e.cert));
  RETURN_IF_ERROR(r.Enum(3, e.outcome, event_names::kOutcomes));
  RETURN_IF_ERROR(r.OptString(4, e.error));
  if (e.error) {
    Status s = ValidateRenewalError(*e.error);
    if (!s.ok()) return r.BadValue(4, *e.error, s.message());
  }
  RETURN_IF_ERROR(r.OptString(5, e.detail, kMaxDetailBytes));
  RETURN_IF_ERROR(r.OptEnum(6, e.challenge, event_names::kChallenges));
  RETURN_IF_ERROR(r.OptString(7, e.ca));
  RETURN_IF_ERROR(r.OptDouble(8, e.duration_ms));
  if (r.Has(9)) RETURN_IF_ERROR(r.Bool(9, e.dry_run));
  RETURN_IF_ERROR(r.OptString(10, e.trigger));
  return OkStatus();
}

Status ParseDeploy(const Reader& r, DeployEvent& e) {
  RETURN_IF_ERROR(r.String(2, e.cert));
  RETURN_IF_ERROR(r.String(3, e.host));
  RETURN_IF_ERROR(r.Enum(4, e.outcome, event_names::kOutcomes));
  RETURN_IF_ERROR(r.OptString(5, e.detail, kMaxDetailBytes));
  return OkStatus();
}

Status ParseTlsProbe(const Reader& r, TlsProbeEvent& e) {
  RETURN_IF_ERROR(r.String(2, e.endpoint));
  if (Status s = ValidateEndpoint(e.endpoint); !s.ok()) {
    return r.BadValue(2, e.endpoint, s.message());
  }
  RETURN_IF_ERROR(r.Name(3, e.sni));
  RETURN_IF_ERROR(r.OptString(4, e.cert));
  RETURN_IF_ERROR(r.Enum(5, e.outcome, event_names::kProbeOutcomes));
  RETURN_IF_ERROR(r.OptEnum(6, e.error, event_names::kTlsErrors));
  RETURN_IF_ERROR(r.OptString(7, e.serial));
  RETURN_IF_ERROR(r.OptTime(8, e.not_after));
  RETURN_IF_ERROR(r.OptDouble(9, e.latency_ms));
  RETURN_IF_ERROR(r.OptString(10, e.tls_version));
  RETURN_IF_ERROR(r.OptString(11, e.cipher));
  RETURN_IF_ERROR(r.OptBool(12, e.ocsp_stapled));
  RETURN_IF_ERROR(r.OptInt(13, e.sct_count));
  return OkStatus();
}

Status ParseDns(const Reader& r, DnsEvent& e) {
  RETURN_IF_ERROR(r.Name(2, e.name));
  RETURN_IF_ERROR(r.Enum(3, e.rtype, event_names::kRecordTypes));
  RETURN_IF_ERROR(r.Enum(4, e.rcode, event_names::kRcodes));
  RETURN_IF_ERROR(r.StringList(5, e.values, true, NoCheck));
  // The spec says producers sort; sorting here too makes the canonical form (and so duplicate
  // detection and answer-change features) independent of a producer that forgot.
  std::sort(e.values.begin(), e.values.end());
  RETURN_IF_ERROR(r.OptEnum(6, e.dnssec, event_names::kDnssec));
  RETURN_IF_ERROR(r.OptTime(7, e.rrsig_expires));
  RETURN_IF_ERROR(r.OptDouble(8, e.latency_ms));
  return OkStatus();
}

Status ParseHttp01(const Reader& r, Http01ProbeEvent& e) {
  RETURN_IF_ERROR(r.Name(2, e.name));
  RETURN_IF_ERROR(r.Enum(3, e.outcome, event_names::kProbeOutcomes));
  RETURN_IF_ERROR(r.OptEnum(4, e.error, event_names::kHttp01Errors));
  RETURN_IF_ERROR(r.OptInt(5, e.status));
  RETURN_IF_ERROR(r.OptString(6, e.vantage));
  RETURN_IF_ERROR(r.OptDouble(7, e.latency_ms));
  return OkStatus();
}

Status ParseDns01(const Reader& r, Dns01CheckEvent& e) {
  RETURN_IF_ERROR(r.Name(2, e.name));
  RETURN_IF_ERROR(r.Enum(3, e.outcome, event_names::kProbeOutcomes));
  RETURN_IF_ERROR(r.OptString(4, e.error));
  RETURN_IF_ERROR(r.OptDouble(5, e.propagation_ms));
  return OkStatus();
}

Status ParseCaProbe(const Reader& r, CaProbeEvent& e) {
  RETURN_IF_ERROR(r.String(2, e.ca));
  RETURN_IF_ERROR(r.Enum(3, e.outcome, event_names::kProbeOutcomes));
  RETURN_IF_ERROR(r.OptInt(4, e.status));
  RETURN_IF_ERROR(r.OptDouble(5, e.latency_ms));
  RETURN_IF_ERROR(r.OptString(6, e.error));
  return OkStatus();
}

Status ParseAri(const Reader& r, AriEvent& e) {
  RETURN_IF_ERROR(r.String(2, e.cert));
  RETURN_IF_ERROR(r.String(3, e.ca));
  RETURN_IF_ERROR(r.Time(4, e.window_start));
  RETURN_IF_ERROR(r.Time(5, e.window_end));
  if (e.window_end < e.window_start) {
    return InvalidArgumentError("field \"window_end\": before \"window_start\"");
  }
  RETURN_IF_ERROR(r.OptInt(6, e.retry_after_s));
  RETURN_IF_ERROR(r.OptString(7, e.explanation_url));
  return OkStatus();
}

Status ParseClock(const Reader& r, ClockEvent& e) {
  RETURN_IF_ERROR(r.String(2, e.host));
  RETURN_IF_ERROR(r.Double(3, e.offset_ms, /*non_negative=*/false));
  RETURN_IF_ERROR(r.OptBool(4, e.synced));
  RETURN_IF_ERROR(r.OptString(5, e.source));
  return OkStatus();
}

Status ParseHost(const Reader& r, HostEvent& e) {
  RETURN_IF_ERROR(r.String(2, e.host));
  RETURN_IF_ERROR(r.OptInt(3, e.disk_free_bytes));
  RETURN_IF_ERROR(r.OptInt(4, e.disk_total_bytes));
  RETURN_IF_ERROR(r.OptTime(5, e.scheduler_last_run));
  RETURN_IF_ERROR(r.OptString(6, e.client_version));
  RETURN_IF_ERROR(r.OptString(7, e.event));
  return OkStatus();
}

Status ParseCredential(const Reader& r, CredentialEvent& e) {
  RETURN_IF_ERROR(r.Enum(2, e.kind, event_names::kCredentialKinds));
  RETURN_IF_ERROR(r.OptString(3, e.host));
  RETURN_IF_ERROR(r.OptString(4, e.cert));
  RETURN_IF_ERROR(r.OptTime(5, e.expires));
  RETURN_IF_ERROR(r.OptBool(6, e.present));
  return OkStatus();
}

Status ParseDomain(const Reader& r, DomainEvent& e) {
  RETURN_IF_ERROR(r.Name(2, e.name));
  RETURN_IF_ERROR(r.OptTime(3, e.expires));
  RETURN_IF_ERROR(r.OptString(4, e.status));
  return OkStatus();
}

// ---- serializer ----

void AppendJsonString(std::string_view s, std::string& out) {
  out.push_back('"');
  // Fast path: most strings need no escaping and are copied in one append.
  bool plain = true, ascii = true;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    ascii &= c < 0x80;
    if (c < 0x20 || c == '"' || c == '\\') {
      plain = false;
      break;
    }
  }
  // The parser refuses invalid UTF-8, so a line written with a stray byte could never be read
  // back (a stored event that stops every scan). Callers make outside text valid (core/utf8.h);
  // this is the last guard: invalid bytes become U+FFFD, cut to the original length so the
  // codec's length limits still hold.
  std::string valid;
  if ((!ascii || !plain) && !IsValidUtf8(s)) {
    valid = ToValidUtf8(s, s.size());
    s = valid;
    plain = false;
  }
  if (plain) {
    out.append(s);
    out.push_back('"');
    return;
  }
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 15]);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  void Key(std::string_view k) {
    out_.push_back(',');
    out_.push_back('"');
    out_.append(k);
    out_.push_back('"');
    out_.push_back(':');
  }
  void Str(std::string_view k, std::string_view v) {
    Key(k);
    AppendJsonString(v, out_);
  }
  void Str(std::string_view k, const std::string& v) { Str(k, std::string_view(v)); }
  void Str(std::string_view k, const std::optional<std::string>& v) {
    if (v) Str(k, std::string_view(*v));
  }
  void Time(std::string_view k, absl::Time t) {
    Key(k);
    out_.push_back('"');
    AppendRfc3339(t, out_);
    out_.push_back('"');
  }
  void Time(std::string_view k, const std::optional<absl::Time>& t) {
    if (t) Time(k, *t);
  }
  void Bool(std::string_view k, bool b) {
    Key(k);
    out_ += b ? "true" : "false";
  }
  void Bool(std::string_view k, const std::optional<bool>& b) {
    if (b) Bool(k, *b);
  }
  void Num(std::string_view k, double d) {
    Key(k);
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
    out_.append(buf, end);
  }
  void Num(std::string_view k, const std::optional<double>& d) {
    if (d) Num(k, *d);
  }
  void Int(std::string_view k, const std::optional<int64_t>& i) {
    if (!i) return;
    Key(k);
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, *i);
    out_.append(buf, end);
  }
  void List(std::string_view k, const std::vector<std::string>& v) {
    Key(k);
    out_.push_back('[');
    for (size_t i = 0; i < v.size(); ++i) {
      if (i) out_.push_back(',');
      AppendJsonString(v[i], out_);
    }
    out_.push_back(']');
  }

 private:
  std::string& out_;
};

}  // namespace

Status ValidateDnsName(std::string_view name) {
  if (name.empty()) return InvalidArgumentError("is empty");
  if (name.size() > 253) return InvalidArgumentError("is longer than 253 bytes");
  if (name.back() == '.') return InvalidArgumentError("has a trailing dot");
  std::string_view rest = name;
  if (rest.substr(0, 2) == "*.") rest.remove_prefix(2);
  size_t label = 0;
  char previous = '.';
  for (const char c : rest) {
    if (c == '.') {
      if (label == 0) return InvalidArgumentError("has an empty label");
      if (previous == '-') return InvalidArgumentError("has a label ending in '-'");
      label = 0;
      previous = c;
      continue;
    }
    // LDH labels: a leading '-' would also make the name an option on a client's command line.
    if (c == '-' && label == 0) return InvalidArgumentError("has a label starting with '-'");
    previous = c;
    if (c >= 'A' && c <= 'Z') return InvalidArgumentError("is not lower case");
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
      return InvalidArgumentError("has a character outside [a-z0-9._-]");
    }
    if (++label > 63) return InvalidArgumentError("has a label longer than 63 bytes");
  }
  if (label == 0) return InvalidArgumentError("has an empty label");
  if (previous == '-') return InvalidArgumentError("has a label ending in '-'");
  return OkStatus();
}

struct EventParser::Impl {
  simdjson::dom::parser parser;
  std::vector<char> buffer;  // the line plus simdjson's padding
};

EventParser::EventParser() : impl_(std::make_unique<Impl>()) {
  // Allocated once for the largest line we accept, so Parse never reallocates. Failure here is
  // out-of-memory at start-up; Parse then reports it per line instead of crashing.
  if (impl_->parser.allocate(kMaxEventLineBytes) != simdjson::SUCCESS) {
    // Out of memory at start-up; parse() retries the allocation per line and reports the error.
  }
}
EventParser::~EventParser() = default;

StatusOr<Event> EventParser::Parse(std::string_view line) {
  if (line.size() > kMaxEventLineBytes) {
    return InvalidArgumentError(
        StrCat("line longer than ", kMaxEventLineBytes, " bytes"));
  }
  auto& buffer = impl_->buffer;
  if (buffer.size() < line.size() + simdjson::SIMDJSON_PADDING) {
    buffer.resize(std::max<size_t>(line.size() + simdjson::SIMDJSON_PADDING, 4096));
  }
  std::memcpy(buffer.data(), line.data(), line.size());
  std::memset(buffer.data() + line.size(), 0, simdjson::SIMDJSON_PADDING);

  simdjson::dom::element root;
  if (auto err = impl_->parser.parse(buffer.data(), line.size(), false).get(root)) {
    return InvalidArgumentError(
        StrCat("invalid JSON: ", simdjson::error_message(err)));
  }
  simdjson::dom::object obj;
  if (root.get_object().get(obj) != simdjson::SUCCESS) {
    return InvalidArgumentError("not a JSON object");
  }
  std::string_view type_text;
  {
    element type_el;
    if (obj["type"].get(type_el) != simdjson::SUCCESS) {
      return InvalidArgumentError("missing required field \"type\"");
    }
    if (type_el.get_string().get(type_text) != simdjson::SUCCESS) {
      return InvalidArgumentError("field \"type\": expected string");
    }
  }
  const std::optional<EventType> type = EventTypeFromString(type_text);
  if (!type) {
    return InvalidArgumentError(
        StrCat("unknown type \"", ToValidUtf8(type_text, 64), "\""));
  }
  Reader r(*type, Tables()[static_cast<size_t>(*type)]);
  RETURN_IF_ERROR(r.Collect(obj));
  Event ev;
  RETURN_IF_ERROR(r.Time(0, ev.ts));
  Status s;
  switch (*type) {
    case EventType::kConfig: s = ParseConfig(r, ev.body.emplace<ConfigEvent>()); break;
    case EventType::kIssued: s = ParseIssued(r, ev.body.emplace<IssuedEvent>()); break;
    case EventType::kRenewal: s = ParseRenewal(r, ev.body.emplace<RenewalEvent>()); break;
    case EventType::kDeploy: s = ParseDeploy(r, ev.body.emplace<DeployEvent>()); break;
    case EventType::kTlsProbe: s = ParseTlsProbe(r, ev.body.emplace<TlsProbeEvent>()); break;
    case EventType::kDns: s = ParseDns(r, ev.body.emplace<DnsEvent>()); break;
    case EventType::kHttp01Probe: s = ParseHttp01(r, ev.body.emplace<Http01ProbeEvent>()); break;
    case EventType::kDns01Check: s = ParseDns01(r, ev.body.emplace<Dns01CheckEvent>()); break;
    case EventType::kCaProbe: s = ParseCaProbe(r, ev.body.emplace<CaProbeEvent>()); break;
    case EventType::kAri: s = ParseAri(r, ev.body.emplace<AriEvent>()); break;
    case EventType::kClock: s = ParseClock(r, ev.body.emplace<ClockEvent>()); break;
    case EventType::kHost: s = ParseHost(r, ev.body.emplace<HostEvent>()); break;
    case EventType::kCredential: s = ParseCredential(r, ev.body.emplace<CredentialEvent>()); break;
    case EventType::kDomain: s = ParseDomain(r, ev.body.emplace<DomainEvent>()); break;
  }
  if (!s.ok()) return s;
  return ev;
}

StatusOr<Event> ParseEventLine(std::string_view line) {
  thread_local EventParser parser;
  return parser.Parse(line);
}

void AppendEventJson(const Event& e, std::string& out) {
  out += "{\"ts\":\"";
  AppendRfc3339(e.ts, out);
  out += "\",\"type\":\"";
  out += ToString(e.type());
  out += '"';
  Writer w(out);
  std::visit(
      [&w](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, ConfigEvent>) {
          w.Str("cert", b.cert);
          w.Str("host", b.host);
          w.List("names", b.names);
          w.Str("client", ToString(b.client));
          w.Str("client_version", b.client_version);
          w.Str("ca", b.ca);
          w.Str("challenge", ToString(b.challenge));
          if (!b.alt_challenges.empty()) {
            std::vector<std::string> alt;
            for (auto c : b.alt_challenges) alt.emplace_back(ToString(c));
            w.List("alt_challenges", alt);
          }
          if (!b.alt_cas.empty()) w.List("alt_cas", b.alt_cas);
          w.Bool("ari", b.ari);
          w.Str("renew_rule", b.renew_rule);
          w.Str("profile", b.profile);
        } else if constexpr (std::is_same_v<T, IssuedEvent>) {
          w.Str("cert", b.cert);
          w.Str("serial", b.serial);
          w.Time("not_before", b.not_before);
          w.Time("not_after", b.not_after);
          w.Str("ca", b.ca);
          if (!b.names.empty()) w.List("names", b.names);
        } else if constexpr (std::is_same_v<T, RenewalEvent>) {
          w.Str("cert", b.cert);
          w.Str("outcome", ToString(b.outcome));
          w.Str("error", b.error);
          w.Str("detail", b.detail);
          if (b.challenge) w.Str("challenge", ToString(*b.challenge));
          w.Str("ca", b.ca);
          w.Num("duration_ms", b.duration_ms);
          if (b.dry_run) w.Bool("dry_run", true);
          w.Str("trigger", b.trigger);
        } else if constexpr (std::is_same_v<T, DeployEvent>) {
          w.Str("cert", b.cert);
          w.Str("host", b.host);
          w.Str("outcome", ToString(b.outcome));
          w.Str("detail", b.detail);
        } else if constexpr (std::is_same_v<T, TlsProbeEvent>) {
          w.Str("endpoint", b.endpoint);
          w.Str("sni", b.sni);
          w.Str("cert", b.cert);
          w.Str("outcome", ToString(b.outcome));
          if (b.error) w.Str("error", ToString(*b.error));
          w.Str("serial", b.serial);
          w.Time("not_after", b.not_after);
          w.Num("latency_ms", b.latency_ms);
          w.Str("tls_version", b.tls_version);
          w.Str("cipher", b.cipher);
          w.Bool("ocsp_stapled", b.ocsp_stapled);
          w.Int("sct_count", b.sct_count);
        } else if constexpr (std::is_same_v<T, DnsEvent>) {
          w.Str("name", b.name);
          w.Str("rtype", ToString(b.rtype));
          w.Str("rcode", ToString(b.rcode));
          w.List("values", b.values);
          if (b.dnssec) w.Str("dnssec", ToString(*b.dnssec));
          w.Time("rrsig_expires", b.rrsig_expires);
          w.Num("latency_ms", b.latency_ms);
        } else if constexpr (std::is_same_v<T, Http01ProbeEvent>) {
          w.Str("name", b.name);
          w.Str("outcome", ToString(b.outcome));
          if (b.error) w.Str("error", ToString(*b.error));
          w.Int("status", b.status);
          w.Str("vantage", b.vantage);
          w.Num("latency_ms", b.latency_ms);
        } else if constexpr (std::is_same_v<T, Dns01CheckEvent>) {
          w.Str("name", b.name);
          w.Str("outcome", ToString(b.outcome));
          w.Str("error", b.error);
          w.Num("propagation_ms", b.propagation_ms);
        } else if constexpr (std::is_same_v<T, CaProbeEvent>) {
          w.Str("ca", b.ca);
          w.Str("outcome", ToString(b.outcome));
          w.Int("status", b.status);
          w.Num("latency_ms", b.latency_ms);
          w.Str("error", b.error);
        } else if constexpr (std::is_same_v<T, AriEvent>) {
          w.Str("cert", b.cert);
          w.Str("ca", b.ca);
          w.Time("window_start", b.window_start);
          w.Time("window_end", b.window_end);
          w.Int("retry_after_s", b.retry_after_s);
          w.Str("explanation_url", b.explanation_url);
        } else if constexpr (std::is_same_v<T, ClockEvent>) {
          w.Str("host", b.host);
          w.Num("offset_ms", b.offset_ms);
          w.Bool("synced", b.synced);
          w.Str("source", b.source);
        } else if constexpr (std::is_same_v<T, HostEvent>) {
          w.Str("host", b.host);
          w.Int("disk_free_bytes", b.disk_free_bytes);
          w.Int("disk_total_bytes", b.disk_total_bytes);
          w.Time("scheduler_last_run", b.scheduler_last_run);
          w.Str("client_version", b.client_version);
          w.Str("event", b.event);
        } else if constexpr (std::is_same_v<T, CredentialEvent>) {
          w.Str("kind", ToString(b.kind));
          w.Str("host", b.host);
          w.Str("cert", b.cert);
          w.Time("expires", b.expires);
          w.Bool("present", b.present);
        } else if constexpr (std::is_same_v<T, DomainEvent>) {
          w.Str("name", b.name);
          w.Time("expires", b.expires);
          w.Str("status", b.status);
        }
      },
      e.body);
  out.push_back('}');
}

std::string EventToJson(const Event& e) {
  std::string out;
  AppendEventJson(e, out);
  return out;
}

}  // namespace certcast
