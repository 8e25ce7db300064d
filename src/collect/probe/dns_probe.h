// The DNS probe: asks one resolver one question and turns the answer into a `dns` event; and the
// CAA lookup with the RFC 8659 tree climb. Coordinators: they do I/O (UDP, TCP on truncation)
// and call the pure parser in dns_wire.h. Thread-safe (no shared state).
#pragma once

#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "core/clock.h"
#include "core/event.h"
#include "core/status.h"

namespace certcast::probe {

struct DnsProbeOptions {
  // "ADDR:PORT", "[V6ADDR]:PORT" or "ADDR" (port 53). Empty: the first nameserver of
  // /etc/resolv.conf, else 127.0.0.1:53.
  std::string resolver;
  // Whole budget of one question (UDP and a TCP retry together). Resolvers answer in well under a
  // second when healthy; five seconds is where stub resolvers give up.
  absl::Duration timeout = absl::Seconds(5);
};

// Parses "ADDR:PORT" / "[V6]:PORT" / "ADDR" into a socket address text and port.
struct ResolverAddress {
  std::string address;
  int port = 53;
};
StatusOr<ResolverAddress> ParseResolverAddress(std::string_view text);
// The default resolver (see DnsProbeOptions::resolver).
std::string DefaultResolver();

// One question. The event has rcode TIMEOUT when no answer came within the timeout; values are
// the answers of the asked type in presentation form, sorted. A malformed response is an error
// (not an event): the resolver is broken in a way the spec's rcodes cannot say.
StatusOr<Event> ProbeDns(std::string_view name, RecordType type, const DnsProbeOptions& options,
                         const Clock& clock);

// RFC 8659 §3: the relevant CAA RRset of `name` is the one at the closest ancestor (name
// included, root excluded) that has one. The event is about `name` (a "*." prefix is dropped, as
// events-v1 says); values are the relevant RRset, empty when no ancestor has one. A lookup that
// fails on the way (SERVFAIL, TIMEOUT, ...) ends the climb with that rcode: a CA must not issue
// then (§3), which is exactly what the event should show. `options.timeout` bounds the whole climb.
StatusOr<Event> ProbeCaa(std::string_view name, const DnsProbeOptions& options, const Clock& clock);

}  // namespace certcast::probe
