// The kept probe list's reader (agent.h ReadProbeList): what a restarted agent probes with while
// the server is away must be its own file, not one planted in its state directory.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "agent/agent.h"

namespace certcast::agent {
namespace {

class ProbeListTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/probe_list_test.XXXXXX";
    dir_ = ::mkdtemp(pattern);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text, mode_t mode) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    ::chmod(path.c_str(), mode);
    return path;
  }
  std::string dir_;
};

TEST_F(ProbeListTest, ReadsItsOwnPrivateFile) {
  const std::string path = Write("probes.json", R"({"targets":[]})", 0600);
  auto text = ReadProbeList(path);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, R"({"targets":[]})");
}

TEST_F(ProbeListTest, RefusesWhatItDidNotWrite) {
  EXPECT_EQ(ReadProbeList(dir_ + "/probes.json").status().code(), StatusCode::kNotFound);
  // A symlink (to a file that would parse) is not followed.
  const std::string target = Write("elsewhere.json", R"({"targets":[]})", 0600);
  ASSERT_EQ(::symlink(target.c_str(), (dir_ + "/probes.json").c_str()), 0);
  auto linked = ReadProbeList(dir_ + "/probes.json");
  ASSERT_FALSE(linked.ok());
  EXPECT_EQ(linked.status().message(), "probe list " + dir_ + "/probes.json: not a regular file");
  // Writable by others: anyone could choose what this agent connects to.
  const std::string open = Write("open.json", R"({"targets":[]})", 0666);
  ::chmod(open.c_str(), 0666);
  auto writable = ReadProbeList(open);
  ASSERT_FALSE(writable.ok());
  EXPECT_EQ(writable.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(writable.status().message()).find("probe list " + open), std::string::npos)
      << writable.status();
  // A directory.
  std::filesystem::create_directory(dir_ + "/dir.json");
  EXPECT_EQ(ReadProbeList(dir_ + "/dir.json").status().message(), "probe list " + dir_ + "/dir.json: not a regular file");
}

}  // namespace
}  // namespace certcast::agent

namespace certcast::agent {
namespace {

// The host name is the machine's or --host, never a placeholder that would merge hosts at the
// server; refused before the token file or the state directory is touched.
TEST(AgentHostTest, APlaceholderHostNameIsRefused) {
  for (const char* host : {"localhost", "localhost.localdomain"}) {
    AgentOptions options;
    options.host = host;
    options.state_dir = "/nonexistent/state";
    options.token_file = "/nonexistent/token";
    std::ostringstream log;
    auto agent = Agent::Create(options, SystemClock::Get(), log);
    ASSERT_FALSE(agent.ok()) << host;
    EXPECT_EQ(agent.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(agent.status().message(),
              std::string("--host \"") + host +
                  "\" is a placeholder: every host so named would be one host to the server; give this host its "
                  "name with --host NAME");
  }
}

}  // namespace
}  // namespace certcast::agent
