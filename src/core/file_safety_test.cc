// Reading files the process acts on: configs nobody else may write, bounded, regular files only.
#include "core/file_safety.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace certcast {
namespace {

class FileSafetyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/file-safety-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  std::string Write(const std::string& name, const std::string& text, mode_t mode) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    ::chmod(path.c_str(), mode);
    return path;
  }
  std::string dir_;
};

TEST_F(FileSafetyTest, ConfigOwnedAndPrivateIsRead) {
  const std::string path = Write("c.toml", "interval = \"1h\"\n", 0644);
  auto text = ReadConfigFile(path, kMaxConfigBytes, "daemon config");
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "interval = \"1h\"\n");
}

TEST_F(FileSafetyTest, ConfigThroughSymlinkIsRead) {
  const std::string target = Write("real.toml", "x = 1\n", 0600);
  const std::string link = dir_ + "/link.toml";
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  auto text = ReadConfigFile(link, kMaxConfigBytes, "daemon config");
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "x = 1\n");
}

TEST_F(FileSafetyTest, ConfigWritableByOthersIsRefused) {
  for (mode_t mode : {mode_t{0666}, mode_t{0620}, mode_t{0602}}) {
    const std::string path = Write("w.toml", "x = 1\n", mode);
    ::chmod(path.c_str(), mode);  // past the umask
    auto text = ReadConfigFile(path, kMaxConfigBytes, "daemon config");
    ASSERT_FALSE(text.ok()) << std::oct << mode;
    EXPECT_EQ(text.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(text.status().message().find("daemon config " + path), std::string::npos)
        << text.status();
    EXPECT_NE(text.status().message().find("chmod go-w"), std::string::npos) << text.status();
  }
  // A simulator config is only read, never acted on as root: the mode does not matter.
  const std::string path = Write("sim.toml", "x = 1\n", 0666);
  ::chmod(path.c_str(), 0666);
  EXPECT_TRUE(ReadRegularFile(path, kMaxConfigBytes, "simulator config").ok());
}

TEST_F(FileSafetyTest, OversizedFifoDirectoryAndMissingAreClearErrors) {
  const std::string big = Write("big.toml", std::string(2000, 'x'), 0600);
  auto text = ReadConfigFile(big, 1000, "server config");
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(text.status().message().find("2000 bytes, more than the limit of 1000"),
            std::string::npos)
      << text.status();

  // A FIFO would block a plain open forever (no writer) and /dev/zero would never end.
  const std::string fifo = dir_ + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  text = ReadConfigFile(fifo, kMaxConfigBytes, "daemon config");
  ASSERT_FALSE(text.ok());
  EXPECT_NE(text.status().message().find("not a regular file"), std::string::npos) << text.status();
  text = ReadRegularFile("/dev/zero", kMaxConfigBytes, "simulator config");
  ASSERT_FALSE(text.ok());
  EXPECT_NE(text.status().message().find("not a regular file"), std::string::npos) << text.status();
  text = ReadConfigFile(dir_, kMaxConfigBytes, "daemon config");
  ASSERT_FALSE(text.ok());

  text = ReadConfigFile(dir_ + "/missing.toml", kMaxConfigBytes, "daemon config");
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().code(), StatusCode::kNotFound);
  EXPECT_NE(text.status().message().find("missing.toml"), std::string::npos) << text.status();
}

}  // namespace
}  // namespace certcast
