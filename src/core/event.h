// The events-v1 data model; docs/events-v1.md is the format's contract.
// One struct per event type; Event holds the timestamp and a variant of them. Closed enumerations
// of the spec are C++ enums; open ones ("open" in the spec) are strings.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/time/time.h"
#include "core/fields.h"

namespace certcast {

enum class EventType : uint8_t {
  kConfig,
  kIssued,
  kRenewal,
  kDeploy,
  kTlsProbe,
  kDns,
  kHttp01Probe,
  kDns01Check,
  kCaProbe,
  kAri,
  kClock,
  kHost,
  kCredential,
  kDomain,
};
inline constexpr int kEventTypeCount = 14;

enum class Client : uint8_t { kCertbot, kLego, kAcmeSh, kCertManager, kCaddy, kOther };
enum class Challenge : uint8_t { kHttp01, kDns01, kTlsAlpn01 };
enum class Outcome : uint8_t { kSuccess, kFailure };  // renewal, deploy
enum class ProbeOutcome : uint8_t { kOk, kError };    // probes and checks
enum class TlsError : uint8_t {
  kConnect, kTimeout, kHandshake, kExpired, kNotYetValid, kNameMismatch, kUntrusted, kRevoked
};
enum class RecordType : uint8_t { kA, kAAAA, kCNAME, kCAA, kNS, kTXT };
enum class Rcode : uint8_t { kNoError, kNxDomain, kServFail, kRefused, kTimeout };
enum class Dnssec : uint8_t { kSecure, kInsecure, kBogus };
enum class Http01Error : uint8_t { kTimeout, kRefused, kHttpStatus, kRedirect, kWrongContent };
enum class CredentialKind : uint8_t { kDnsApiToken, kEab, kAccountKey };

// Text forms exactly as the spec spells them.
std::string_view ToString(EventType v);
std::string_view ToString(Client v);
std::string_view ToString(Challenge v);
std::string_view ToString(Outcome v);
std::string_view ToString(ProbeOutcome v);
std::string_view ToString(TlsError v);
std::string_view ToString(RecordType v);
std::string_view ToString(Rcode v);
std::string_view ToString(Dnssec v);
std::string_view ToString(Http01Error v);
std::string_view ToString(CredentialKind v);

// Reverse lookups; nullopt for text outside the enumeration.
std::optional<EventType> EventTypeFromString(std::string_view s);
std::optional<Challenge> ChallengeFromString(std::string_view s);

struct ConfigEvent {
  std::string cert;
  std::string host;
  std::vector<std::string> names;
  Client client = Client::kOther;
  std::optional<std::string> client_version;
  std::string ca;
  Challenge challenge = Challenge::kHttp01;
  std::vector<Challenge> alt_challenges;  // absent and [] are the same: nothing to switch to
  std::vector<std::string> alt_cas;
  bool ari = false;
  std::optional<std::string> renew_rule;  // validated: fraction:F | days_left:N | after_issue_days:N
  std::optional<std::string> profile;
  bool operator==(const ConfigEvent&) const = default;
};
// Persisted fields (core/fields.h), e.g. in the planner's checkpoint.
template <FieldsOf<ConfigEvent> E>
auto Fields(E& e) {
  return std::tie(e.cert, e.host, e.names, e.client, e.client_version, e.ca, e.challenge, e.alt_challenges,
                  e.alt_cas, e.ari, e.renew_rule, e.profile);
}

struct IssuedEvent {
  std::string cert;
  std::string serial;
  absl::Time not_before;
  absl::Time not_after;
  std::string ca;
  std::vector<std::string> names;  // optional in the spec; empty when absent
  bool operator==(const IssuedEvent&) const = default;
};
template <FieldsOf<IssuedEvent> E>
auto Fields(E& e) { return std::tie(e.cert, e.serial, e.not_before, e.not_after, e.ca, e.names); }

struct RenewalEvent {
  std::string cert;
  Outcome outcome = Outcome::kSuccess;
  std::optional<std::string> error;  // ACME problem URN or timeout|network|dns_api|hook|local|unknown
  std::optional<std::string> detail;
  std::optional<Challenge> challenge;
  std::optional<std::string> ca;
  std::optional<double> duration_ms;
  bool dry_run = false;
  std::optional<std::string> trigger;  // schedule, forced, ari, or open
  bool operator==(const RenewalEvent&) const = default;
};

struct DeployEvent {
  std::string cert;
  std::string host;
  Outcome outcome = Outcome::kSuccess;
  std::optional<std::string> detail;
  bool operator==(const DeployEvent&) const = default;
};
template <FieldsOf<DeployEvent> E>
auto Fields(E& e) { return std::tie(e.cert, e.host, e.outcome, e.detail); }

struct TlsProbeEvent {
  std::string endpoint;  // "host:port"
  std::string sni;
  std::optional<std::string> cert;
  ProbeOutcome outcome = ProbeOutcome::kOk;
  std::optional<TlsError> error;
  std::optional<std::string> serial;
  std::optional<absl::Time> not_after;
  std::optional<double> latency_ms;
  std::optional<std::string> tls_version;
  std::optional<std::string> cipher;
  std::optional<bool> ocsp_stapled;
  std::optional<int64_t> sct_count;
  bool operator==(const TlsProbeEvent&) const = default;
};

struct DnsEvent {
  std::string name;
  RecordType rtype = RecordType::kA;
  Rcode rcode = Rcode::kNoError;
  std::vector<std::string> values;  // sorted (the parser sorts; the spec says producers do)
  std::optional<Dnssec> dnssec;
  std::optional<absl::Time> rrsig_expires;
  std::optional<double> latency_ms;
  bool operator==(const DnsEvent&) const = default;
};

struct Http01ProbeEvent {
  std::string name;
  ProbeOutcome outcome = ProbeOutcome::kOk;
  std::optional<Http01Error> error;
  std::optional<int64_t> status;
  std::optional<std::string> vantage;
  std::optional<double> latency_ms;
  bool operator==(const Http01ProbeEvent&) const = default;
};

struct Dns01CheckEvent {
  std::string name;
  ProbeOutcome outcome = ProbeOutcome::kOk;
  std::optional<std::string> error;  // open
  std::optional<double> propagation_ms;
  bool operator==(const Dns01CheckEvent&) const = default;
};

struct CaProbeEvent {
  std::string ca;
  ProbeOutcome outcome = ProbeOutcome::kOk;
  std::optional<int64_t> status;
  std::optional<double> latency_ms;
  std::optional<std::string> error;  // open
  bool operator==(const CaProbeEvent&) const = default;
};

struct AriEvent {
  std::string cert;
  std::string ca;
  absl::Time window_start;
  absl::Time window_end;
  std::optional<int64_t> retry_after_s;
  std::optional<std::string> explanation_url;
  bool operator==(const AriEvent&) const = default;
};
template <FieldsOf<AriEvent> E>
auto Fields(E& e) { return std::tie(e.cert, e.ca, e.window_start, e.window_end, e.retry_after_s, e.explanation_url); }

struct ClockEvent {
  std::string host;
  double offset_ms = 0;  // local minus reference
  std::optional<bool> synced;
  std::optional<std::string> source;
  bool operator==(const ClockEvent&) const = default;
};

struct HostEvent {
  std::string host;
  std::optional<int64_t> disk_free_bytes;
  std::optional<int64_t> disk_total_bytes;
  std::optional<absl::Time> scheduler_last_run;
  std::optional<std::string> client_version;
  std::optional<std::string> event;  // upgrade, restart, redeploy, or open
  bool operator==(const HostEvent&) const = default;
};

struct CredentialEvent {
  CredentialKind kind = CredentialKind::kAccountKey;
  std::optional<std::string> host;
  std::optional<std::string> cert;
  std::optional<absl::Time> expires;
  std::optional<bool> present;
  bool operator==(const CredentialEvent&) const = default;
};

struct DomainEvent {
  std::string name;  // registered domain
  std::optional<absl::Time> expires;
  std::optional<std::string> status;
  bool operator==(const DomainEvent&) const = default;
};

// Alternative order == EventType order, so body.index() == static_cast<int>(type()).
using EventBody =
    std::variant<ConfigEvent, IssuedEvent, RenewalEvent, DeployEvent, TlsProbeEvent, DnsEvent,
                 Http01ProbeEvent, Dns01CheckEvent, CaProbeEvent, AriEvent, ClockEvent, HostEvent,
                 CredentialEvent, DomainEvent>;

struct Event {
  absl::Time ts;
  EventBody body;

  EventType type() const { return static_cast<EventType>(body.index()); }
  template <typename T>
  const T* As() const { return std::get_if<T>(&body); }
  template <typename T>
  T* As() { return std::get_if<T>(&body); }
  bool operator==(const Event&) const = default;
};

// The subject an event is about, used by the store for lookups: the cert for lineage events, the
// DNS name for name events, the host, the CA URL, or the endpoint. Empty for a credential event
// that names neither cert nor host.
std::string_view EventSubject(const Event& e);

// Renewal-rule forms of the `config` event.
struct RenewRule {
  enum class Kind : uint8_t { kFraction, kDaysLeft, kAfterIssueDays };
  Kind kind;
  double value;  // fraction of lifetime elapsed (0..1) or days
};
// Parses "fraction:0.667", "days_left:30", "after_issue_days:59".
std::optional<RenewRule> ParseRenewRule(std::string_view text);

}  // namespace certcast
