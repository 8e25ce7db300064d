// The agent's one write outside its state directory (docs/security.md, "The agent's challenge
// token"): a random HTTP-01 token file placed in a lineage's webroot, so that the server can ask
// for it from outside and learn whether the answer for NAME comes from this host's web server
// (docs/decisions.md, 2026-12-05, proof of HTTP-01 origin).
//
// The agent often runs as root and the webroot is a directory a web application may share, so:
//  - the webroot is an absolute path from the client's own configuration with no "." or ".."
//    component; the token is base64url only (no '/', no ".."): the file is always
//    WEBROOT/.well-known/acme-challenge/TOKEN, never anywhere else;
//  - below the webroot every level is opened with O_NOFOLLOW relative to the one above (openat):
//    a symlink at .well-known, acme-challenge or TOKEN is refused, not followed;
//  - the webroot and both directories below it must be directories owned by root or this uid
//    with no group or other write bit (whoever else can write them could swap them under us);
//  - the file is created with O_CREAT|O_EXCL (an existing file, or a symlink planted there, is
//    an error) and mode 0644 (the web server, another user, must read it); the body is the only
//    content;
//  - missing .well-known / acme-challenge directories are created 0755 and removed again with
//    the file (only when empty: a client's files in them stay).
// The file is removed by Remove() or the destructor, whichever comes first.
// Thread safety: none (one PlacedToken per thread).
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <string>
#include <string_view>

#include "core/status.h"

namespace certcast::agent {

struct WebrootTokenOptions {
  // Owners a directory on the way may have besides root; tests set another to see a refusal.
  uid_t self = ::geteuid();
};

class PlacedToken {
 public:
  PlacedToken(PlacedToken&& other) noexcept;
  PlacedToken& operator=(PlacedToken&&) = delete;
  PlacedToken(const PlacedToken&) = delete;
  ~PlacedToken();

  // Removes the file (and the directories this placement created, when empty). Idempotent. An
  // error names the path; the destructor ignores it (the next placement uses another token).
  Status Remove();
  // WEBROOT/.well-known/acme-challenge/TOKEN, for logs and tests.
  const std::string& path() const { return path_; }

 private:
  friend StatusOr<PlacedToken> PlaceChallengeToken(const std::string&, std::string_view, std::string_view,
                                                   const WebrootTokenOptions&);
  PlacedToken() = default;
  int webroot_fd_ = -1, well_known_fd_ = -1, challenge_fd_ = -1;
  bool created_well_known_ = false, created_challenge_ = false;
  std::string token_, path_;
};

// Places `body` at WEBROOT/.well-known/acme-challenge/`token` as described above.
// InvalidArgument for a webroot that is not absolute and normal, a token that is not 1 to 128
// base64url characters, a body that is empty, longer than 512 bytes or not printable ASCII;
// FailedPrecondition naming the path for a symlink, a foreign owner, a group/other-writable
// directory or an existing file; NotFound when the webroot does not exist.
StatusOr<PlacedToken> PlaceChallengeToken(const std::string& webroot, std::string_view token, std::string_view body,
                                          const WebrootTokenOptions& options = {});

}  // namespace certcast::agent
