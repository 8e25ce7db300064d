#include "store/ingest.h"

#include <filesystem>
#include <fstream>

#include "core/event_json.h"
#include "gtest/gtest.h"

namespace certcast {
namespace {

struct Rejection {
  std::string source;
  int64_t line;
  std::string reason;
  bool operator==(const Rejection&) const = default;
};

class IngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("certcast-ingest-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    store_ = *Store::Open((dir_ / "t.db").string());
    options_.on_reject = [this](std::string_view s, int64_t line, std::string_view reason) {
      rejections_.push_back({std::string(s), line, std::string(reason)});
    };
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
  IngestOptions options_;
  std::vector<Rejection> rejections_;
};

const std::string kGood1 =
    R"({"ts":"2026-11-01T00:00:00Z","type":"domain","name":"example.com"})";
const std::string kGood2 =
    R"({"ts":"2026-11-02T00:00:00Z","type":"clock","host":"web1","offset_ms":12})";

// The server's host binding: a refused event stops the ingest with the refusal, and with one batch
// for the whole input nothing of it is stored.
TEST_F(IngestTest, AdmitRefusalStopsAndStoresNothingOfTheBatch) {
  options_.batch_events = 1000;
  options_.admit = [](const Event& e) -> Status {
    const auto* clock = e.As<ClockEvent>();
    if (clock && clock->host != "web2") return FailedPreconditionError("host " + clock->host);
    return OkStatus();
  };
  auto stats = IngestText(*store_, kGood1 + "\n" + kGood2 + "\n" + kGood1 + "\n", "body", options_);
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.status().message(), "host web1");
  EXPECT_EQ(*store_->CountEvents(), 0);
  // Events it admits go through as usual.
  stats = IngestText(*store_, kGood1 + "\n", "body", options_);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->inserted, 1);
}

TEST_F(IngestTest, KeepsValidLinesAndReportsEachRejectedLine) {
  const std::string text = kGood1 + "\n" + "\n" + "{broken\n" + kGood2 + "\n" +
                           R"({"ts":"2026-11-02T00:00:00Z","type":"weather"})" + "\n" + kGood1 +
                           "\r\n" + kGood2;  // CRLF, duplicate, and no final newline
  auto stats = IngestText(*store_, text, "f.jsonl", options_);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->lines, 7);
  EXPECT_EQ(stats->accepted, 4);
  EXPECT_EQ(stats->inserted, 2);
  EXPECT_EQ(stats->duplicates, 2);
  EXPECT_EQ(stats->rejected, 2);
  ASSERT_EQ(rejections_.size(), 2u);
  EXPECT_EQ(rejections_[0].line, 3);
  EXPECT_EQ(rejections_[0].source, "f.jsonl");
  EXPECT_EQ(rejections_[0].reason.rfind("invalid JSON: ", 0), 0u) << rejections_[0].reason;
  EXPECT_EQ(rejections_[1], (Rejection{"f.jsonl", 5, "unknown type \"weather\""}));
  EXPECT_EQ(*store_->CountEvents(), 2);
}

TEST_F(IngestTest, StreamsAFileBiggerThanItsReadBufferWithLinesAcrossReads) {
  // ~9 MB: more than two 4 MiB reads, so lines straddle read boundaries.
  const std::string path = (dir_ / "big.jsonl").string();
  const int kLines = 60000;
  {
    std::ofstream out(path);
    for (int i = 0; i < kLines; ++i) {
      out << R"({"ts":"2026-11-01T00:00:00Z","type":"host","host":"h)" << i
          << R"(","client_version":")" << std::string(100, 'v') << "\"}\n";
    }
  }
  options_.batch_events = 7000;
  int commits = 0;
  int64_t last_committed_line = 0;
  options_.on_commit = [&](std::string_view, int64_t line) {
    ++commits;
    EXPECT_GT(line, last_committed_line);
    last_committed_line = line;
  };
  auto stats = IngestFile(*store_, path, options_);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->inserted, kLines);
  EXPECT_EQ(stats->rejected, 0);
  EXPECT_EQ(commits, (kLines + 6999) / 7000);
  EXPECT_EQ(last_committed_line, kLines);
  EXPECT_EQ(*store_->CountEvents(), kLines);
  EXPECT_EQ(stats->bytes, static_cast<int64_t>(std::filesystem::file_size(path)));
}

TEST_F(IngestTest, AnOverlongLineIsRejectedWithoutLosingItsNeighbours) {
  const std::string path = (dir_ / "long.jsonl").string();
  {
    std::ofstream out(path);
    out << kGood1 << "\n" << std::string(kMaxEventLineBytes + 10, 'x') << "\n" << kGood2 << "\n";
    out << std::string(6 << 20, 'y');  // an overlong last line without newline, across reads
  }
  auto stats = IngestFile(*store_, path, options_);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->inserted, 2);
  ASSERT_EQ(rejections_.size(), 2u);
  EXPECT_EQ(rejections_[0], (Rejection{path, 2, "line longer than 1048576 bytes"}));
  EXPECT_EQ(rejections_[1], (Rejection{path, 4, "line longer than 1048576 bytes"}));
}

TEST_F(IngestTest, MissingFileAndDirectoryAreClearErrors) {
  auto missing = IngestFile(*store_, (dir_ / "nope.jsonl").string(), options_);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), (dir_ / "nope.jsonl").string() + ": No such file or directory");
  auto dir = IngestFile(*store_, dir_.string(), options_);
  EXPECT_EQ(dir.status().message(), dir_.string() + ": is a directory");
}

}  // namespace
}  // namespace certcast
