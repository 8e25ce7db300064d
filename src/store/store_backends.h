// The store's two backends, SQLite and PostgreSQL, where a caller must tell them apart or needs
// what only some callers use (leadership among servers, copying a store). store.h is the
// interface every step uses; this header is for the server and `certcast migrate`.
//
// Every --db goes through Store::Open (store.h), which opens a PostgreSQL URI (IsPostgresUri)
// with OpenPostgres and anything else as a SQLite file.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "store/store.h"

namespace certcast {

// True when `db` (a --db value) names a PostgreSQL database: it starts with "postgresql://" or
// "postgres://". Anything else is a SQLite file path.
bool IsPostgresUri(std::string_view db);

// `db` as messages may show it: a SQLite path as given; a PostgreSQL URI as
// postgresql://USER@HOST:PORT/DBNAME, never with its password.
std::string StoreDisplayName(const std::string& db);

// Connects to (and migrates) the PostgreSQL database `uri` (any libpq connection URI): the same
// schema versions and the same refusal of a newer schema as SQLite; NotFound when the database has
// no certcast schema and options.create_if_missing is false; Unavailable when the server cannot
// be reached; InvalidArgument for a URI libpq cannot parse. Messages name the URI without its
// password. StoreOptions::cache_bytes does not apply (the server's shared_buffers do).
StatusOr<std::unique_ptr<Store>> OpenPostgres(const std::string& uri, const StoreOptions& options = {});

// True for a store opened by OpenPostgres.
bool IsPostgresStore(const Store& store);

// Leadership among the processes sharing a store, for `role` (e.g. "planner"). `held` while this
// Store holds it; once held it stays held until the Store is destroyed or its process dies
// (PostgreSQL: a session advisory lock on the Store's connection, released by the server when the
// connection drops; SQLite: an flock on "<path>-leader-<role>"; an in-memory store always leads).
// Ask again before each round of leader work: a PostgreSQL connection lost and re-made no longer
// holds it, and until asked again that Store refuses to Commit. `changed`: the answer differs
// from this Store's previous answer for the role (false at the first ask when not held).
struct Leadership {
  bool held = false;
  bool changed = false;
};
StatusOr<Leadership> HoldLeadership(Store& store, std::string_view role);

// Every state entry (Store::PutState), by key.
StatusOr<std::vector<std::pair<std::string, std::string>>> ListState(Store& store);

}  // namespace certcast
