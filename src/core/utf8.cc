#include "core/utf8.h"

namespace certcast {
namespace {

// Length of the valid UTF-8 sequence starting at text[i], or 0 when the byte there does not start
// one.
size_t SequenceLength(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t length = 0;
  if (c >= 0xC2 && c <= 0xDF) length = 2;
  else if (c >= 0xE0 && c <= 0xEF) length = 3;
  else if (c >= 0xF0 && c <= 0xF4) length = 4;
  if (length == 0 || i + length > text.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  }
  // Overlong forms, UTF-16 surrogates and code points above U+10FFFF (RFC 3629 section 4).
  const unsigned char d = byte(i + 1);
  if (c == 0xE0 && d < 0xA0) return 0;
  if (c == 0xED && d > 0x9F) return 0;
  if (c == 0xF0 && d < 0x90) return 0;
  if (c == 0xF4 && d > 0x8F) return 0;
  return length;
}

// Whether a byte of valid UTF-8 starts a character (is not a continuation byte).
bool StartsCharacter(char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }

}  // namespace

bool IsValidUtf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const size_t length = SequenceLength(text, i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

std::string ToValidUtf8(std::string_view text, size_t max_bytes, KeepEnd keep) {
  std::string out;
  // A cut keeping the head never needs more than max_bytes + one character of input: stop
  // converting there, so a huge input costs no more than the part kept.
  out.reserve(std::min(text.size(), max_bytes) + 4);
  for (size_t i = 0; i < text.size();) {
    if (keep == KeepEnd::kHead && out.size() > max_bytes) break;
    const size_t length = SequenceLength(text, i);
    if (length == 0) {
      out.append(kReplacementCharacter);
      ++i;
    } else {
      out.append(text.substr(i, length));
      i += length;
    }
  }
  if (out.size() <= max_bytes) return out;
  // `out` is valid UTF-8 now, so a character boundary is any byte that is not a continuation.
  if (keep == KeepEnd::kHead) {
    size_t end = max_bytes;
    while (end > 0 && !StartsCharacter(out[end])) --end;
    out.resize(end);
  } else {
    size_t start = out.size() - max_bytes;
    while (start < out.size() && !StartsCharacter(out[start])) ++start;
    out.erase(0, start);
  }
  return out;
}

}  // namespace certcast
