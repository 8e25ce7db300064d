#include "core/utf8.h"

#include "gtest/gtest.h"

namespace certcast {
namespace {

constexpr std::string_view R = kReplacementCharacter;

std::string S(std::string_view a, std::string_view b = {}, std::string_view c = {}) {
  return std::string(a) + std::string(b) + std::string(c);
}

TEST(ToValidUtf8, ReplacesEveryInvalidByteAndKeepsValidText) {
  struct Case {
    std::string in, out;
  } cases[] = {
      {"", ""},
      {"plain ascii", "plain ascii"},
      {"caf\xC3\xA9", "caf\xC3\xA9"},                        // é, valid
      {"Error: caf\xE9", S("Error: caf", R)},                 // Latin-1 é (the finding)
      {"\xE9t\xE9", S(R, "t", R)},
      {"\xC3", std::string(R)},                              // truncated 2-byte sequence
      {"\xE2\x82", S(R, R)},                                 // truncated 3-byte sequence
      {"\xC0\xAF", S(R, R)},                                 // overlong '/'
      {"\xE0\x80\xAF", S(R, R, R)},                          // overlong, 3 bytes
      {"\xED\xA0\x80", S(R, R, R)},                          // UTF-16 surrogate
      {"\xF4\x90\x80\x80", S(R, R, S(R, R))},                // above U+10FFFF
      {"\xF0\x9F\x94\x92 lock", "\xF0\x9F\x94\x92 lock"},   // 4-byte emoji, valid
      {"\xFF\xFE", S(R, R)},
      {std::string("nul\0byte", 8), std::string("nul\0byte", 8)},  // NUL is valid UTF-8
  };
  for (const auto& c : cases) {
    EXPECT_EQ(ToValidUtf8(c.in), c.out) << c.in;
    EXPECT_TRUE(IsValidUtf8(ToValidUtf8(c.in))) << c.in;
    EXPECT_EQ(IsValidUtf8(c.in), c.in == c.out) << c.in;
  }
}

TEST(ToValidUtf8, CutsOnACharacterBoundaryAtEitherEnd) {
  struct Case {
    std::string in;
    size_t max;
    KeepEnd keep;
    std::string out;
  } cases[] = {
      {"abcdef", 4, KeepEnd::kHead, "abcd"},
      {"abcdef", 4, KeepEnd::kTail, "cdef"},
      {"abcdef", 6, KeepEnd::kHead, "abcdef"},
      {"abcdef", 0, KeepEnd::kHead, ""},
      // é is 2 bytes: a cut inside it drops the whole character.
      {"ab\xC3\xA9", 3, KeepEnd::kHead, "ab"},
      {"\xC3\xA9z", 2, KeepEnd::kTail, "z"},
      {"\xC3\xA9z", 3, KeepEnd::kTail, "\xC3\xA9z"},
      // A replacement character counts 3 bytes and is never split.
      {"ab\xE9", 4, KeepEnd::kHead, "ab"},
      {"ab\xE9", 5, KeepEnd::kHead, S("ab", R)},
      {"\xE9z", 3, KeepEnd::kTail, "z"},
      {"\xE9z", 4, KeepEnd::kTail, S(R, "z")},
      // The emoji (4 bytes) is kept whole or not at all.
      {"x\xF0\x9F\x94\x92", 4, KeepEnd::kHead, "x"},
      {"\xF0\x9F\x94\x92x", 4, KeepEnd::kTail, "x"},
  };
  for (const auto& c : cases) {
    const std::string out = ToValidUtf8(c.in, c.max, c.keep);
    EXPECT_EQ(out, c.out) << c.in << " max " << c.max;
    EXPECT_LE(out.size(), c.max);
    EXPECT_TRUE(IsValidUtf8(out));
  }
}

TEST(ToValidUtf8, EveryCutOfMixedTextIsValidAndBounded) {
  const std::string text = "Erreur : caf\xE9 \xC3\xA9t\xC3\xA9 \xF0\x9F\x94\x92 \xED\xA0\x80 fin";
  for (size_t max = 0; max <= 3 * text.size(); ++max) {
    for (KeepEnd keep : {KeepEnd::kHead, KeepEnd::kTail}) {
      const std::string out = ToValidUtf8(text, max, keep);
      ASSERT_TRUE(IsValidUtf8(out)) << max;
      ASSERT_LE(out.size(), max);
      // Nothing is cut that fits: the longest valid cut is at most 3 bytes short of the limit.
      const std::string whole = ToValidUtf8(text);
      ASSERT_GE(out.size() + 3, std::min(max, whole.size())) << max;
      if (keep == KeepEnd::kHead) ASSERT_EQ(whole.substr(0, out.size()), out);
      else ASSERT_EQ(whole.substr(whole.size() - out.size()), out);
    }
  }
}

}  // namespace
}  // namespace certcast
