// Byte strings from outside certcast (process output, client logs and state files, probe errors,
// HTTP bodies, hook environments) made fit for an event or an audit record. Both are JSON, and the
// events-v1 parser refuses a line that is not valid UTF-8: one stray byte stored in an event would
// make that row unreadable. Every string that comes from outside goes through ToValidUtf8 before
// it is put in an event or a record, and every cut to a byte count is made here, on a character
// boundary.
#pragma once

#include <cstddef>
#include <limits>
#include <string>
#include <string_view>

namespace certcast {

// U+FFFD REPLACEMENT CHARACTER, encoded in UTF-8 (3 bytes).
inline constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";

// Which end of a string survives a cut.
enum class KeepEnd { kHead, kTail };

// `text` as valid UTF-8 (RFC 3629: no overlong forms, no UTF-16 surrogates, nothing above
// U+10FFFF): every byte that does not belong to a valid sequence becomes U+FFFD. Then, if longer
// than `max_bytes`, cut to at most `max_bytes` bytes on a character boundary, keeping the start
// (kHead) or the end (kTail). The result is always valid UTF-8 and never longer than `max_bytes`.
std::string ToValidUtf8(std::string_view text,
                        size_t max_bytes = std::numeric_limits<size_t>::max(),
                        KeepEnd keep = KeepEnd::kHead);

// Whether `text` is valid UTF-8 in the sense above.
bool IsValidUtf8(std::string_view text);

}  // namespace certcast
