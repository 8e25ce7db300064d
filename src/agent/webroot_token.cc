#include "agent/webroot_token.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "core/file_safety.h"
#include "core/strings.h"

namespace certcast::agent {
namespace {

constexpr size_t kMaxBodyBytes = 512;
constexpr size_t kMaxTokenBytes = 128;

// A directory on the way to the file: a directory (not a symlink: the caller opened it with
// O_NOFOLLOW), owned by root or `self`, not writable by group or others.
Status CheckDirectory(int fd, const std::string& path, uid_t self) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return FailedPreconditionError(StrCat(path, ": fstat: ", std::strerror(errno)));
  if (!S_ISDIR(st.st_mode)) return FailedPreconditionError(StrCat(path, ": not a directory"));
  if (st.st_uid != 0 && st.st_uid != self) {
    return FailedPreconditionError(StrCat("webroot directory ", path, ": owned by uid ", st.st_uid,
                                          ", not by root or uid ", self, "; refusing to write a token there"));
  }
  if (st.st_mode & (S_IWGRP | S_IWOTH)) {
    return FailedPreconditionError(StrCat("webroot directory ", path, ": mode ", OctalMode(st.st_mode),
                                          " lets group or others write it; refusing to write a token there (chmod go-w)"));
  }
  return OkStatus();
}

// Opens `name` under `parent` without following a symlink, creating it (0755) when missing.
StatusOr<int> OpenOrCreateDirectory(int parent, const char* name, const std::string& path, bool& created) {
  int fd = ::openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    if (::mkdirat(parent, name, 0755) == 0) {
      created = true;
    } else if (errno != EEXIST) {
      return FailedPreconditionError(StrCat(path, ": mkdir: ", std::strerror(errno)));
    }
    // mkdirat's mode is masked by the umask; the web server must be able to traverse it.
    fd = ::openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0 && created && ::fchmod(fd, 0755) != 0) {
      ::close(fd);
      return FailedPreconditionError(StrCat(path, ": chmod: ", std::strerror(errno)));
    }
  }
  if (fd < 0) {
    if (errno == ELOOP || errno == ENOTDIR) {
      return FailedPreconditionError(StrCat(path, ": a symlink or not a directory; refusing to follow it"));
    }
    return FailedPreconditionError(StrCat(path, ": open: ", std::strerror(errno)));
  }
  return fd;
}

}  // namespace

PlacedToken::PlacedToken(PlacedToken&& other) noexcept
    : webroot_fd_(std::exchange(other.webroot_fd_, -1)),
      well_known_fd_(std::exchange(other.well_known_fd_, -1)),
      challenge_fd_(std::exchange(other.challenge_fd_, -1)),
      created_well_known_(other.created_well_known_),
      created_challenge_(other.created_challenge_),
      token_(std::move(other.token_)),
      path_(std::move(other.path_)) {}

PlacedToken::~PlacedToken() { (void)Remove(); }

Status PlacedToken::Remove() {
  Status status = OkStatus();
  if (challenge_fd_ >= 0 && !token_.empty()) {
    if (::unlinkat(challenge_fd_, token_.c_str(), 0) != 0 && errno != ENOENT) {
      status = FailedPreconditionError(StrCat(path_, ": unlink: ", std::strerror(errno)));
    }
    token_.clear();
  }
  // Only the directories this placement made, and only when empty (ENOTEMPTY is fine: a client
  // put its own files there meanwhile).
  if (created_challenge_ && well_known_fd_ >= 0) (void)::unlinkat(well_known_fd_, "acme-challenge", AT_REMOVEDIR);
  if (created_well_known_ && webroot_fd_ >= 0) (void)::unlinkat(webroot_fd_, ".well-known", AT_REMOVEDIR);
  created_challenge_ = created_well_known_ = false;
  for (int* fd : {&challenge_fd_, &well_known_fd_, &webroot_fd_}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
  return status;
}

StatusOr<PlacedToken> PlaceChallengeToken(const std::string& webroot, std::string_view token, std::string_view body,
                                          const WebrootTokenOptions& options) {
  if (webroot.empty() || webroot.front() != '/') {
    return InvalidArgumentError(StrCat("webroot \"", webroot, "\": not an absolute path"));
  }
  for (std::string_view rest = webroot; !rest.empty();) {
    const size_t slash = rest.find('/');
    const std::string_view part = rest.substr(0, slash);
    if (part == "." || part == "..") {
      return InvalidArgumentError(StrCat("webroot \"", webroot, "\": has a \"", part, "\" component"));
    }
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  if (token.empty() || token.size() > kMaxTokenBytes) {
    return InvalidArgumentError(StrCat("challenge token: 1 to ", kMaxTokenBytes, " characters"));
  }
  for (char c : token) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
      return InvalidArgumentError(StrCat("challenge token \"", token, "\": not base64url"));
    }
  }
  if (body.empty() || body.size() > kMaxBodyBytes) {
    return InvalidArgumentError(StrCat("challenge body: 1 to ", kMaxBodyBytes, " bytes"));
  }
  for (char c : body) {
    if (c < 0x21 || c > 0x7e) return InvalidArgumentError("challenge body: printable ASCII only");
  }

  PlacedToken placed;
  std::string root = webroot;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  // The webroot itself is the client's configured path, followed as the client follows it.
  placed.webroot_fd_ = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (placed.webroot_fd_ < 0) {
    const int error = errno;
    if (error == ENOENT) return NotFoundError(StrCat("webroot ", root, ": does not exist"));
    return FailedPreconditionError(StrCat("webroot ", root, ": open: ", std::strerror(error)));
  }
  RETURN_IF_ERROR(CheckDirectory(placed.webroot_fd_, root, options.self));
  const std::string well_known = StrCat(root == "/" ? "" : root, "/.well-known");
  ASSIGN_OR_RETURN(placed.well_known_fd_,
                   OpenOrCreateDirectory(placed.webroot_fd_, ".well-known", well_known, placed.created_well_known_));
  RETURN_IF_ERROR(CheckDirectory(placed.well_known_fd_, well_known, options.self));
  const std::string challenge = well_known + "/acme-challenge";
  ASSIGN_OR_RETURN(placed.challenge_fd_, OpenOrCreateDirectory(placed.well_known_fd_, "acme-challenge", challenge,
                                                               placed.created_challenge_));
  RETURN_IF_ERROR(CheckDirectory(placed.challenge_fd_, challenge, options.self));
  placed.path_ = StrCat(challenge, "/", token);
  const std::string name(token);
  const int fd = ::openat(placed.challenge_fd_, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int error = errno;
    return FailedPreconditionError(StrCat(placed.path_, ": create: ", std::strerror(error),
                                          error == EEXIST ? " (a file or symlink is already there)" : ""));
  }
  placed.token_ = name;  // from here on, Remove() unlinks it
  // 0644 whatever the umask: the web server (another user) reads it.
  Status written = ::fchmod(fd, 0644) == 0 ? WriteAll(fd, body, placed.path_)
                                           : FailedPreconditionError(StrCat(placed.path_, ": chmod: ", std::strerror(errno)));
  ::close(fd);
  RETURN_IF_ERROR(written);
  return placed;
}

}  // namespace certcast::agent
