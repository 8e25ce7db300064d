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
  // Ask with the DNSSEC OK bit and report `dnssec` and `rrsig_expires` (see ProbeDns). Opt-in
  // because the state is only as true as the resolver: one that does not validate never sets AD,
  // so every answer through it would read "insecure".
  bool dnssec = false;
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
//
// With options.dnssec (the resolver must validate, e.g. unbound with a trust anchor):
//  - `dnssec`: secure when a NOERROR/NXDOMAIN answer has AD set; insecure when it has not; bogus
//    when the answer is SERVFAIL and the same question with CD=1 is answered (how a validating
//    resolver tells validation failure from other failures). Absent when the resolver's reply
//    drops the DO bit (it does not do DNSSEC), on TIMEOUT/REFUSED, and on a SERVFAIL that CD=1
//    does not cure.
//  - `rrsig_expires`: the earliest expiration of the RRSIGs over the answered RRsets (CNAME chain
//    included) or, for NXDOMAIN/NODATA, over the authority section's SOA and NSEC/NSEC3 proofs;
//    for bogus, of the CD=1 answer (in the past when the signatures expired). Read with RFC 1982
//    serial arithmetic around the event's time. Absent when no such RRSIG came back.
StatusOr<Event> ProbeDns(std::string_view name, RecordType type, const DnsProbeOptions& options,
                         const Clock& clock);

// RFC 8659 §3: the relevant CAA RRset of `name` is the one at the closest ancestor (name
// included, root excluded) that has one. The event is about `name` (a "*." prefix is dropped, as
// events-v1 says); values are the relevant RRset, empty when no ancestor has one. A lookup that
// fails on the way (SERVFAIL, TIMEOUT, ...) ends the climb with that rcode: a CA must not issue
// then (§3), which is exactly what the event should show. `options.timeout` bounds the whole climb.
// With options.dnssec, each step is asked as ProbeDns does; `dnssec` is the weakest step's (secure
// only when every step was; bogus when a step was, which ends the climb with SERVFAIL; absent when
// a step's state is unknown) and `rrsig_expires` the earliest over all steps.
StatusOr<Event> ProbeCaa(std::string_view name, const DnsProbeOptions& options, const Clock& clock);

}  // namespace certcast::probe
