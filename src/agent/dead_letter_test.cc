// The dead-letter file's bound (dead_letter.h): oldest records dropped first, the drop counted
// and remembered across a reopen until it is reported, the newest records always kept.
#include "agent/dead_letter.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/strings.h"

namespace certcast::agent {
namespace {

class DeadLetterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/dead_letter_test.XXXXXX";
    dir_ = ::mkdtemp(pattern);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream all;
    all << in.rdbuf();
    return all.str();
  }
  // "record-NN": 10 bytes with the newline.
  static std::string Record(int i) {
    char text[16];
    std::snprintf(text, sizeof text, "record-%02d", i);
    return text;
  }
  std::string dir_;
  absl::Time now_ = absl::FromUnixSeconds(1800000000);
};

TEST_F(DeadLetterTest, KeepsEverythingUnderTheBound) {
  auto file = DeadLetterFile::Open(dir_, 100);
  ASSERT_TRUE(file.ok()) << file.status();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(file->Append(Record(i), now_).ok());  // 50 bytes = half
  EXPECT_EQ(Read(file->path()), "record-00\nrecord-01\nrecord-02\nrecord-03\nrecord-04\n");
  EXPECT_FALSE(std::filesystem::exists(file->old_path()));
  EXPECT_FALSE(file->PeekDropped());
  struct stat st{};
  ASSERT_EQ(::stat(file->path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(DeadLetterTest, DropsTheOldestGenerationCountedAndRemembered) {
  auto file = DeadLetterFile::Open(dir_, 100);  // a generation holds at most 50 bytes: 5 records
  ASSERT_TRUE(file.ok()) << file.status();
  // 0-4 fill the first generation; 5 rotates it to old; 10 rotates again and drops 0-4.
  for (int i = 0; i < 12; ++i) ASSERT_TRUE(file->Append(Record(i), now_ + absl::Seconds(i)).ok()) << i;
  EXPECT_EQ(Read(file->old_path()), "record-05\nrecord-06\nrecord-07\nrecord-08\nrecord-09\n");
  EXPECT_EQ(Read(file->path()), "record-10\nrecord-11\n");
  ASSERT_TRUE(file->PeekDropped());
  EXPECT_EQ(file->PeekDropped()->events, 5);
  EXPECT_EQ(file->PeekDropped()->bytes, 50);
  EXPECT_EQ(file->PeekDropped()->first, now_ + absl::Seconds(10));
  // Never more than the bound on disk.
  EXPECT_LE(std::filesystem::file_size(file->path()) + std::filesystem::file_size(file->old_path()), 100u);

  // The count survives a restart until it is reported, and grows with later drops.
  auto reopened = DeadLetterFile::Open(dir_, 100);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  ASSERT_TRUE(reopened->PeekDropped());
  EXPECT_EQ(reopened->PeekDropped()->events, 5);
  for (int i = 12; i < 16; ++i) ASSERT_TRUE(reopened->Append(Record(i), now_ + absl::Seconds(i)).ok());
  EXPECT_EQ(reopened->PeekDropped()->events, 10);
  EXPECT_EQ(reopened->PeekDropped()->first, now_ + absl::Seconds(10));  // the first drop's time
  EXPECT_EQ(Read(reopened->path()), "record-15\n");
  ASSERT_TRUE(reopened->ClearDropped().ok());
  EXPECT_FALSE(reopened->PeekDropped());
  EXPECT_FALSE(DeadLetterFile::Open(dir_, 100)->PeekDropped());
}

TEST_F(DeadLetterTest, ARecordLargerThanHalfTheBoundIsStillKept) {
  auto file = DeadLetterFile::Open(dir_, 20);
  ASSERT_TRUE(file.ok());
  const std::string big(40, 'x');
  ASSERT_TRUE(file->Append(big, now_).ok());
  ASSERT_TRUE(file->Append(big, now_).ok());
  EXPECT_EQ(Read(file->path()), big + "\n");
  EXPECT_EQ(Read(file->old_path()), big + "\n");
  EXPECT_FALSE(file->PeekDropped());
  ASSERT_TRUE(file->Append("y", now_).ok());
  EXPECT_EQ(Read(file->path()), "y\n");
  ASSERT_TRUE(file->PeekDropped());
  EXPECT_EQ(file->PeekDropped()->events, 1);
  EXPECT_EQ(file->PeekDropped()->bytes, 41);
}

TEST_F(DeadLetterTest, BadStateAndSettingsAreRefusedByName) {
  EXPECT_EQ(DeadLetterFile::Open(dir_, 1).status().message(), "--dead-letter-max-bytes: at least 2");
  std::ofstream(dir_ + "/dead-letter.dropped") << "garbage\n";
  auto file = DeadLetterFile::Open(dir_, 100);
  ASSERT_FALSE(file.ok());
  EXPECT_TRUE(std::string(file.status().message()).starts_with(dir_ + "/dead-letter.dropped: "))
      << file.status();
  std::filesystem::remove(dir_ + "/dead-letter.dropped");
  // A symlink where the file should be is not followed.
  ASSERT_EQ(::symlink("/etc/passwd", (dir_ + "/dead-letter.jsonl").c_str()), 0);
  auto linked = DeadLetterFile::Open(dir_, 100);
  ASSERT_TRUE(linked.ok());
  EXPECT_EQ(linked->Append("r", now_).message(), dir_ + "/dead-letter.jsonl: not a regular file");
}

}  // namespace
}  // namespace certcast::agent
