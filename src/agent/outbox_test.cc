#include "agent/outbox.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/time.h"

namespace certcast::agent {
namespace {

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/outbox_test.XXXXXX";
    root_ = ::mkdtemp(pattern);
    options_.dir = root_ + "/outbox";
    options_.segment_bytes = 64;
    options_.max_bytes = 256;
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  std::string root_;
  OutboxOptions options_;
  absl::Time now_ = absl::FromUnixSeconds(1800000000);
};

TEST_F(OutboxTest, AppendsReadsAndAcknowledgesInOrder) {
  auto outbox = Outbox::Open(options_);
  ASSERT_TRUE(outbox.ok()) << outbox.status();
  ASSERT_TRUE(outbox->Append({"a", "b"}, now_).ok());
  ASSERT_EQ(outbox->segments().size(), 1u);
  EXPECT_EQ(*outbox->Read(outbox->segments()[0]), "a\nb\n");
  struct stat st {};
  ASSERT_EQ(::stat(options_.dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat(outbox->segments()[0].path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const Segment first = outbox->segments()[0];
  ASSERT_TRUE(outbox->Acknowledge(first).ok());
  EXPECT_TRUE(outbox->segments().empty());
  EXPECT_FALSE(std::filesystem::exists(first.path));
}

}  // namespace
}  // namespace certcast::agent
