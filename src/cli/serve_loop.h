// Runs a fleet server until SIGTERM or SIGINT (SIGHUP reloads its TLS pair): the loop of
// `certcast serve`, shared with `certcast demo --serve`.
#pragma once

#include <functional>

#include "api/server.h"
#include "core/clock.h"

namespace certcast::cli {

// Blocks the signals in every thread, creates and runs the server, and returns the command's exit
// code: 0 after a signal stopped it, kExitUsage for bad options, kExitFailure when it could not
// start or failed. `on_listening(port)` runs once the socket is bound.
int ServeUntilSignal(const api::ServerOptions& options, const Clock& clock,
                     const std::function<void(int port)>& on_listening);

}  // namespace certcast::cli
