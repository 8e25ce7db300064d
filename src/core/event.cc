#include "core/event.h"

#include <array>
#include <charconv>

#include "core/event_names.h"

namespace certcast {
namespace {

template <typename E, size_t N>
std::string_view Name(E v, const std::array<std::string_view, N>& names) {
  const auto i = static_cast<size_t>(v);
  return i < N ? names[i] : std::string_view("?");
}

template <typename E, size_t N>
std::optional<E> Find(std::string_view s, const std::array<std::string_view, N>& names) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == s) return static_cast<E>(i);
  }
  return std::nullopt;
}

}  // namespace

std::string_view ToString(EventType v) { return Name(v, event_names::kTypes); }
std::string_view ToString(Client v) { return Name(v, event_names::kClients); }
std::string_view ToString(Challenge v) { return Name(v, event_names::kChallenges); }
std::string_view ToString(Outcome v) { return Name(v, event_names::kOutcomes); }
std::string_view ToString(ProbeOutcome v) { return Name(v, event_names::kProbeOutcomes); }
std::string_view ToString(TlsError v) { return Name(v, event_names::kTlsErrors); }
std::string_view ToString(RecordType v) { return Name(v, event_names::kRecordTypes); }
std::string_view ToString(Rcode v) { return Name(v, event_names::kRcodes); }
std::string_view ToString(Dnssec v) { return Name(v, event_names::kDnssec); }
std::string_view ToString(Http01Error v) { return Name(v, event_names::kHttp01Errors); }
std::string_view ToString(CredentialKind v) { return Name(v, event_names::kCredentialKinds); }

std::optional<EventType> EventTypeFromString(std::string_view s) {
  return Find<EventType>(s, event_names::kTypes);
}
std::optional<Challenge> ChallengeFromString(std::string_view s) {
  return Find<Challenge>(s, event_names::kChallenges);
}

std::string_view EventSubject(const Event& e) {
  return std::visit(
      [](const auto& b) -> std::string_view {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, TlsProbeEvent>) {
          if (b.cert) return *b.cert;
          return b.endpoint;
        } else if constexpr (std::is_same_v<T, CredentialEvent>) {
          if (b.cert) return *b.cert;
          if (b.host) return *b.host;
          return {};
        } else if constexpr (requires { b.cert; }) {
          return b.cert;
        } else if constexpr (requires { b.name; }) {
          return b.name;
        } else if constexpr (requires { b.host; }) {
          return b.host;
        } else {
          return b.ca;
        }
      },
      e.body);
}

std::optional<RenewRule> ParseRenewRule(std::string_view text) {
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const std::string_view kind = text.substr(0, colon);
  const std::string_view number = text.substr(colon + 1);
  double value = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc() || end != number.data() + number.size()) return std::nullopt;
  if (kind == "fraction") {
    if (!(value > 0 && value < 1)) return std::nullopt;
    return RenewRule{RenewRule::Kind::kFraction, value};
  }
  if (!(value >= 0 && value < 100000)) return std::nullopt;
  if (kind == "days_left") return RenewRule{RenewRule::Kind::kDaysLeft, value};
  if (kind == "after_issue_days") return RenewRule{RenewRule::Kind::kAfterIssueDays, value};
  return std::nullopt;
}

}  // namespace certcast
