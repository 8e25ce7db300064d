// The fixture the store's contract suites share (store_test.cc, action_queue_test.cc): each
// TEST_P runs on SQLite (a file in a temporary directory) and on PostgreSQL (a schema of its own
// in the database named by CERTCAST_TEST_POSTGRES, which tests/integration/pg_store_test.sh sets
// after starting a server; without it the PostgreSQL runs skip).
#pragma once

#include <libpq-fe.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/event_json.h"
#include "core/strings.h"
#include "gtest/gtest.h"
#include "store/store.h"
#include "store/store_backends.h"

namespace certcast {
namespace store_test {

enum class Backend { kSqlite, kPostgres };

// The test's own name as a PostgreSQL identifier (lower case, letters, digits, _).
inline std::string SchemaName() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = StrCat("t_", info->test_suite_name(), "_", info->name());
  for (char& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? std::tolower(c) : '_';
  return name.substr(0, 60);
}

class BackendTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string safe = info->name();
    for (char& c : safe) c = c == '/' ? '_' : c;
    dir_ = std::filesystem::temp_directory_path() /
           ("certcast-store-" + std::to_string(::getpid()) + "-" + safe);
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    if (GetParam() == Backend::kSqlite) {
      path_ = (dir_ / "test.db").string();
      return;
    }
    const char* base = std::getenv("CERTCAST_TEST_POSTGRES");
    if (!base || !*base) GTEST_SKIP() << "CERTCAST_TEST_POSTGRES not set (pg_store_test.sh sets it)";
    // A schema per test: the store's tables land in the first schema of search_path.
    schema_ = SchemaName();
    base_uri_ = base;
    ASSERT_EQ(RawOn(base_uri_, StrCat("DROP SCHEMA IF EXISTS ", schema_, " CASCADE; CREATE SCHEMA ",
                                      schema_)),
              "");
    path_ = StrCat(base_uri_, base_uri_.find('?') == std::string::npos ? "?" : "&",
                   "options=-csearch_path%3D", schema_);
  }
  void TearDown() override {
    std::filesystem::remove_all(dir_);
    if (!schema_.empty()) RawOn(base_uri_, StrCat("DROP SCHEMA IF EXISTS ", schema_, " CASCADE"));
  }

  bool Pg() const { return GetParam() == Backend::kPostgres; }

  // Runs `sql` on the store behind the test's back; "" or the database's error message.
  std::string Raw(const std::string& sql) const {
    if (Pg()) return RawOn(path_, sql);
    sqlite3* db = nullptr;
    if (sqlite3_open(path_.c_str(), &db) != SQLITE_OK) return "cannot open";
    char* error = nullptr;
    std::string out;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      out = error ? error : "error";
    }
    sqlite3_free(error);
    sqlite3_close(db);
    return out;
  }
  static std::string RawOn(const std::string& uri, const std::string& sql) {
    PGconn* conn = PQconnectdb(uri.c_str());
    std::string out;
    if (PQstatus(conn) != CONNECTION_OK) {
      out = PQerrorMessage(conn);
    } else {
      PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);
      PGresult* r = PQexec(conn, sql.c_str());
      const ExecStatusType st = PQresultStatus(r);
      if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) out = PQresultErrorMessage(r);
      PQclear(r);
    }
    PQfinish(conn);
    return out;
  }

  // Sets the schema version the store records (PRAGMA user_version / certcast_schema).
  std::string SetVersion(int version) const {
    return Raw(Pg() ? StrCat("UPDATE certcast_schema SET version = ", version)
                    : StrCat("PRAGMA user_version=", version));
  }

  // The store's name in messages.
  std::string Name() const { return StoreDisplayName(path_); }

  static Event Ev(const char* line) {
    auto e = ParseEventLine(line);
    EXPECT_TRUE(e.ok()) << e.status();
    return *e;
  }

  std::filesystem::path dir_;
  std::string path_;      // the --db value: a file, or a URI whose search_path is schema_
  std::string base_uri_;  // PostgreSQL: the server's URI as given
  std::string schema_;
};

// Checks that the store's audit records form one chain (seq 1, 2, ..., each linked to the one
// before and hashed as written); returns how many there are.
inline int64_t ExpectOneChain(Store& store) {
  int64_t want_seq = 1;
  std::string prev;
  EXPECT_TRUE(store.ScanAudit([&](const AuditRecord& r) {
                     EXPECT_EQ(r.seq, want_seq++);
                     EXPECT_EQ(r.prev_hash, prev);
                     EXPECT_EQ(AuditHash(r), r.hash);
                     prev = r.hash;
                     return OkStatus();
                   }).ok());
  return want_seq - 1;
}

inline std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
}

}  // namespace store_test
}  // namespace certcast
