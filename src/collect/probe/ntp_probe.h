// The NTP clock probe: one SNTPv4 exchange (RFC 4330) with a server, turned into a `clock` event
// about this host. The HTTP Date header of a CA (acme_probe.h) gives the offset to about a
// second; NTP gives it to half the round trip, and against the reference the host is meant to
// follow. Coordinator: it does the UDP I/O and calls the pure code in ntp_packet.h.
// Thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "core/clock.h"
#include "core/event.h"
#include "core/status.h"

namespace certcast::probe {

struct NtpProbeOptions {
  // The clock event's `host`. Empty: this machine's name (LocalHostName()).
  std::string host;
  // Whole budget, all attempts together, split evenly between them. A server answers within
  // one round trip (milliseconds); a reply later than a few seconds would make a poor sample.
  absl::Duration timeout = absl::Seconds(5);
  // Requests sent before giving up; each a new socket and nonce, so a late reply to an earlier
  // one cannot be taken for the answer. Two is the usual single retry: UDP may lose a packet.
  int attempts = 2;
};

struct NtpServer {
  std::string host;  // name or IP address, without brackets
  int port = 123;
};
// "HOST", "HOST:PORT", "[V6]", "[V6]:PORT" or a bare IPv6 address; the port defaults to 123.
// Errors: `NTP server "a:99999": port "99999" is not 1..65535`.
StatusOr<NtpServer> ParseNtpServer(std::string_view text);

// Asks `server` the time once (with the retries of `options`) and returns a `clock` event:
// ts the local time the request left, offset_ms local minus the server's time (−θ), source
// "ntp:SERVER" as given, synced unset (the server cannot say whether this host synchronises its
// clock). `seed` seeds the generator of the request nonces: pass unpredictable bits (e.g. from
// std::random_device), since the nonce is what keeps an off-path sender from forging a reply.
//
// Errors name the address that failed, not the server (the caller has it, as for the other
// probes): "192.0.2.1: no reply within 5s (2 attempts)", with the last ignored datagram's fault
// when one came ("...; ignored: origin timestamp ... not a reply to this request"). A reply that
// carries the nonce but cannot be used ends the probe without a retry, since asking again would
// get the same answer: Kiss-o'-Death (its code named), an unsynchronised server, a malformed
// reply; all Unavailable, being the server's fault. "port unreachable" (Unavailable) when the
// host says nothing listens there; "resolve NAME: ..." when the name has no address; no reply is
// DeadlineExceeded; InvalidArgument only for a bad `server` or options.
StatusOr<Event> ProbeNtp(std::string_view server, const NtpProbeOptions& options, const Clock& clock,
                         uint64_t seed);

// 64 bits from std::random_device: the seed production callers pass to ProbeNtp.
uint64_t UnpredictableSeed();

}  // namespace certcast::probe
