#include "agent/webroot_token.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <fstream>
#include <sstream>

namespace certcast::agent {
namespace {

namespace fs = std::filesystem;

constexpr char kToken[] = "dGhpcyBpcyBhIHRva2VuIGZvciB0aGUgd2Vicm9vdA_-";
constexpr char kBody[] = "dGhpcyBpcyBhIHRva2VuIGZvciB0aGUgd2Vicm9vdA_-.proof";

class WebrootTokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/certcast-webroot-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    webroot_ = dir_ + "/www";
    ASSERT_EQ(::mkdir(webroot_.c_str(), 0755), 0);
    ::chmod(webroot_.c_str(), 0755);
  }
  void TearDown() override { fs::remove_all(dir_); }
  static std::string Read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  std::string dir_, webroot_;
};

TEST_F(WebrootTokenTest, PlacesAWorldReadableFileAndRemovesItWithTheDirectoriesItMade) {
  const std::string path = webroot_ + "/.well-known/acme-challenge/" + kToken;
  {
    auto placed = PlaceChallengeToken(webroot_, kToken, kBody);
    ASSERT_TRUE(placed.ok()) << placed.status().message();
    EXPECT_EQ(placed->path(), path);
    EXPECT_EQ(Read(path), kBody);
    struct stat st {};
    ASSERT_EQ(::lstat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0644u);  // the web server, another user, reads it
    ASSERT_EQ(::lstat((webroot_ + "/.well-known").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0755u);
  }  // the destructor removes it
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(webroot_ + "/.well-known"));  // it made both directories: both gone
}

TEST_F(WebrootTokenTest, KeepsDirectoriesThatWereThereAndWhatElseIsInThem) {
  fs::create_directories(webroot_ + "/.well-known/acme-challenge");
  fs::permissions(webroot_ + "/.well-known", fs::perms(0755));
  fs::permissions(webroot_ + "/.well-known/acme-challenge", fs::perms(0755));
  std::ofstream(webroot_ + "/.well-known/acme-challenge/certbot-token") << "x";
  auto placed = PlaceChallengeToken(webroot_ + "/", kToken, kBody);  // a trailing slash is fine
  ASSERT_TRUE(placed.ok()) << placed.status().message();
  ASSERT_TRUE(placed->Remove().ok());
  ASSERT_TRUE(placed->Remove().ok());  // idempotent
  EXPECT_FALSE(fs::exists(webroot_ + "/.well-known/acme-challenge/" + kToken));
  EXPECT_TRUE(fs::exists(webroot_ + "/.well-known/acme-challenge/certbot-token"));
}

TEST_F(WebrootTokenTest, RefusesTraversalSymlinksAndUnsafeDirectories) {
  const std::string outside = dir_ + "/outside";
  fs::create_directories(outside);
  fs::permissions(outside, fs::perms(0755));
  struct Case {
    std::string name;
    std::function<void()> arrange;
    std::string webroot, token, body;
    StatusCode code;
    std::string error;  // a prefix of the message; "{W}" stands for the webroot
  } cases[] = {
      {"relative webroot", [] {}, "www", kToken, kBody, StatusCode::kInvalidArgument,
       "webroot \"www\": not an absolute path"},
      {"dot-dot in the webroot", [] {}, "{W}/../outside", kToken, kBody, StatusCode::kInvalidArgument,
       "webroot \"{W}/../outside\": has a \"..\" component"},
      {"token with a slash", [] {}, "{W}", "../../outside/x", kBody, StatusCode::kInvalidArgument,
       "challenge token \"../../outside/x\": not base64url"},
      {"token dot-dot", [] {}, "{W}", "..", kBody, StatusCode::kInvalidArgument, "challenge token \"..\": not base64url"},
      {"empty token", [] {}, "{W}", "", kBody, StatusCode::kInvalidArgument, "challenge token: 1 to 128 characters"},
      {"body with a newline", [] {}, "{W}", kToken, "a\nb", StatusCode::kInvalidArgument,
       "challenge body: printable ASCII only"},
      {"missing webroot", [] {}, "{W}/nothing", kToken, kBody, StatusCode::kNotFound,
       "webroot {W}/nothing: does not exist"},
      {".well-known a symlink out of the webroot",
       [&] { fs::create_directory_symlink(outside, webroot_ + "/.well-known"); }, "{W}", kToken, kBody,
       StatusCode::kFailedPrecondition, "{W}/.well-known: a symlink or not a directory; refusing to follow it"},
      {"acme-challenge a symlink",
       [&] {
         fs::create_directory(webroot_ + "/.well-known");
         fs::permissions(webroot_ + "/.well-known", fs::perms(0755));
         fs::create_directory_symlink(outside, webroot_ + "/.well-known/acme-challenge");
       },
       "{W}", kToken, kBody, StatusCode::kFailedPrecondition,
       "{W}/.well-known/acme-challenge: a symlink or not a directory; refusing to follow it"},
      {"the token's name already a symlink",
       [&] {
         fs::create_directories(webroot_ + "/.well-known/acme-challenge");
         fs::permissions(webroot_ + "/.well-known", fs::perms(0755));
         fs::permissions(webroot_ + "/.well-known/acme-challenge", fs::perms(0755));
         fs::create_symlink(outside + "/victim", webroot_ + "/.well-known/acme-challenge/" + kToken);
       },
       "{W}", kToken, kBody, StatusCode::kFailedPrecondition,
       std::string("{W}/.well-known/acme-challenge/") + kToken + ": create: File exists"},
      {"webroot writable by others", [&] { fs::permissions(webroot_, fs::perms(0777)); }, "{W}", kToken, kBody,
       StatusCode::kFailedPrecondition, "webroot directory {W}: mode 0777 lets group or others write it"},
  };
  for (Case& c : cases) {
    SetUp();
    c.arrange();
    auto fill = [&](std::string text) {
      for (size_t at; (at = text.find("{W}")) != std::string::npos;) text.replace(at, 3, webroot_);
      return text;
    };
    auto placed = PlaceChallengeToken(fill(c.webroot), c.token, c.body);
    ASSERT_FALSE(placed.ok()) << c.name;
    EXPECT_EQ(placed.status().code(), c.code) << c.name;
    EXPECT_EQ(placed.status().message().substr(0, fill(c.error).size()), fill(c.error))
        << c.name << ": " << placed.status().message();
    EXPECT_TRUE(fs::is_empty(outside)) << c.name << ": wrote outside the webroot";
    EXPECT_FALSE(fs::exists(outside + "/victim")) << c.name;
    TearDown();
  }
  dir_ = outside.substr(0, outside.rfind('/'));
}

TEST_F(WebrootTokenTest, RefusesADirectoryOfAnotherOwner) {
  // Root may give the directory away; anyone else sees its own directory as another's by naming
  // another uid as itself.
  WebrootTokenOptions options;
  uid_t owner = ::geteuid();
  if (owner == 0) {
    ASSERT_EQ(::chown(webroot_.c_str(), 65534, 65534), 0);
    owner = 65534;
  } else {
    options.self = owner + 1;
  }
  auto placed = PlaceChallengeToken(webroot_, kToken, kBody, options);
  ASSERT_FALSE(placed.ok());
  EXPECT_EQ(placed.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(placed.status().message(),
            "webroot directory " + webroot_ + ": owned by uid " + std::to_string(owner) + ", not by root or uid " +
                std::to_string(options.self) + "; refusing to write a token there");
  EXPECT_FALSE(fs::exists(webroot_ + "/.well-known"));
}

}  // namespace
}  // namespace certcast::agent
