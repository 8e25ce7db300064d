// The HTTP-01 reachability probe: GET http://NAME/.well-known/acme-challenge/<token> the way an
// ACME CA's validator does (RFC 8555 §8.3; Let's Encrypt's rules for redirects and addresses:
// IPv6 first when NAME has an AAAA record, IPv4 only after a timeout or refusal over IPv6, on every
// hop), reported as an `http01_probe` event. A coordinator; thread-safe.
#pragma once

#include <set>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "core/clock.h"
#include "core/event.h"
#include "core/status.h"

namespace certcast::probe {

struct Http01ProbeOptions {
  int port = 80;                          // the CA always uses 80; other values are for tests
  std::string token = "certcast-probe";   // path component after /acme-challenge/
  // When set, the body must equal it (trailing whitespace trimmed, as Boulder does) for `ok`;
  // use with a token a deploy hook has placed. When empty, a 200 or 404 final answer is `ok`:
  // the challenge path reaches a web server that would serve a real token.
  std::string expect;
  std::string address;                    // connect to this IP for NAME (like curl --resolve)
  // When set (and no address is), every host on the way is looked up with AAAA and A queries to
  // this resolver ("ADDR:PORT") instead of the system's: the view of the CA's own resolver, or of
  // a lab's mock DNS. A name without an address is `refused` (unresolvable), as for the system's.
  std::string resolver;
  std::string vantage;                    // copied into the event (where the probe runs)
  absl::Duration timeout = absl::Seconds(10);  // whole probe, all redirects included
};

// Redirect rule of the CA validator: at most 10 hops, only http/https, only ports 80 and 443.
// `probe_port` is also allowed so tests can run without privileged ports. Returns "" when the
// redirect may be followed, else why not.
inline constexpr int kMaxHttp01Redirects = 10;
std::string Http01RedirectRefusal(std::string_view scheme, int port, int probe_port);

StatusOr<Event> ProbeHttp01(std::string_view name, const Http01ProbeOptions& options, const Clock& clock);

}  // namespace certcast::probe
