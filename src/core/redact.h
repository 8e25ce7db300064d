// Secrets kept out of everything certcast writes: audit records, events, the daemon's log and
// error messages. The one place that knows what a secret looks like; every writer of text that
// may carry one (an argv, a URL, a client's output) passes it through here first.
//
// What is redacted (the value becomes "REDACTED", the name stays so a reader sees what was there):
//   - in an argv, the value after a flag that carries a secret (--eab-hmac-key K, lego's --hmac K
//     and --eab.hmac K, --password P, --token T, --api-key K, --secret S; also --flag=VALUE);
//   - NAME=VALUE anywhere (environment style, URL query parameters, --flag=VALUE) when NAME names
//     a secret: its words (split on - _ .) include hmac, token, secret, password, passwd,
//     passphrase, apikey, or (for names that are not --flags) key, sig, signature, pass, pwd, auth;
//   - the password of a URL's userinfo (scheme://user:PASSWORD@host), and a userinfo without a
//     password whole (it is usually a token);
//   - the value of an Authorization or Proxy-Authorization header, to the end of the line.
// What is not: a secret in a URL's path (chat webhooks carry one there) cannot be told from a
// path; a URL certcast itself is configured with (the webhook) is written as UrlForRecords.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace certcast {

inline constexpr std::string_view kRedacted = "REDACTED";

// `text` with every secret above replaced by kRedacted.
std::string RedactSecrets(std::string_view text);

// `argv` with the argument after a secret-carrying flag replaced by kRedacted and each argument
// passed through RedactSecrets. For records only: the program still gets the real argv.
std::vector<std::string> RedactArgv(const std::vector<std::string>& argv);

// A configured URL as records may show it: scheme and host (userinfo redacted), the path and
// query elided ("https://hooks.example/..."); kRedacted when it is not scheme://...
std::string UrlForRecords(std::string_view url);

}  // namespace certcast
