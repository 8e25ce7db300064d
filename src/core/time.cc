#include "core/time.h"

#include <cstdint>

#include "core/strings.h"
#include "core/utf8.h"

namespace certcast {
namespace {

// Howard Hinnant's days_from_civil / civil_from_days (public domain): proleptic Gregorian.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned DaysInMonth(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// Reads exactly n digits at s[pos]; false if any is not a digit.
bool Digits(std::string_view s, size_t pos, size_t n, unsigned& out) {
  if (pos + n > s.size()) return false;
  unsigned v = 0;
  for (size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  out = v;
  return true;
}

Status Bad(std::string_view text, std::string_view why) {
  return InvalidArgumentError(
      StrCat("bad timestamp \"", ToValidUtf8(text, 64), "\": ", why,
                   " (want RFC 3339 UTC like 2026-11-01T00:00:00Z)"));
}

}  // namespace

StatusOr<absl::Time> ParseRfc3339(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.fraction]Z
  unsigned year, month, day, hour, minute, second;
  if (text.size() < 20) return Bad(text, "too short");
  if (!Digits(text, 0, 4, year) || text[4] != '-' || !Digits(text, 5, 2, month) ||
      text[7] != '-' || !Digits(text, 8, 2, day)) {
    return Bad(text, "date is not YYYY-MM-DD");
  }
  if (text[10] != 'T' && text[10] != 't') return Bad(text, "no 'T' between date and time");
  if (!Digits(text, 11, 2, hour) || text[13] != ':' || !Digits(text, 14, 2, minute) ||
      text[16] != ':' || !Digits(text, 17, 2, second)) {
    return Bad(text, "time is not HH:MM:SS");
  }
  if (month < 1 || month > 12) return Bad(text, "month out of range");
  if (day < 1 || day > DaysInMonth(year, month)) return Bad(text, "day out of range");
  if (hour > 23 || minute > 59 || second > 59) return Bad(text, "time of day out of range");
  size_t pos = 19;
  int64_t micros = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    const size_t start = pos;
    int64_t scale = 100000;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      micros += (text[pos] - '0') * scale;  // digits past the 6th add 0: truncated to micros
      scale /= 10;
      ++pos;
    }
    if (pos == start) return Bad(text, "no digits after '.'");
    if (pos - start > 9) return Bad(text, "more than 9 fractional digits");
  }
  if (pos >= text.size()) return Bad(text, "missing 'Z'");
  if (text[pos] == '+' || text[pos] == '-') return Bad(text, "offset is not Z (events are UTC)");
  if (text[pos] != 'Z' && text[pos] != 'z') return Bad(text, "expected 'Z'");
  if (pos + 1 != text.size()) return Bad(text, "trailing characters");
  const int64_t days = DaysFromCivil(year, month, day);
  const int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second;
  return absl::FromUnixMicros(secs * 1000000 + micros);
}

void AppendRfc3339(absl::Time t, std::string& out) {
  const int64_t total_micros = absl::ToUnixMicros(t);
  int64_t secs = total_micros / 1000000;
  int64_t micros = total_micros % 1000000;
  if (micros < 0) {
    micros += 1000000;
    secs -= 1;
  }
  int64_t days = secs / 86400;
  int64_t sod = secs % 86400;
  if (sod < 0) {
    sod += 86400;
    days -= 1;
  }
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, y, m, d);
  // Hand-rolled digits: snprintf made this the most expensive part of serializing an event.
  char buf[32];
  auto put = [&buf](int at, int64_t value, int width) {
    for (int i = width - 1; i >= 0; --i) {
      buf[at + i] = static_cast<char>('0' + value % 10);
      value /= 10;
    }
  };
  if (y < 0 || y > 9999) {
    // Outside RFC 3339's four-digit years; only reachable from absl::Time arithmetic, not input.
    y = y < 0 ? 0 : 9999;
  }
  put(0, y, 4);
  buf[4] = '-';
  put(5, m, 2);
  buf[7] = '-';
  put(8, d, 2);
  buf[10] = 'T';
  put(11, sod / 3600, 2);
  buf[13] = ':';
  put(14, sod / 60 % 60, 2);
  buf[16] = ':';
  put(17, sod % 60, 2);
  int n = 19;
  if (micros != 0) {
    buf[n++] = '.';
    put(n, micros, 6);
    n += 6;
    while (buf[n - 1] == '0') --n;
  }
  out.append(buf, static_cast<size_t>(n));
  out.push_back('Z');
}

std::string FormatRfc3339(absl::Time t) {
  std::string out;
  AppendRfc3339(t, out);
  return out;
}

StatusOr<absl::Duration> ParseDurationFlag(std::string_view text) {
  if (text.empty()) return InvalidArgumentError("empty duration (want e.g. 7d, 36h, 90m)");
  absl::Duration total;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t start = pos;
    int64_t value = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      value = value * 10 + (text[pos] - '0');
      if (value > 1000000000) {
        return InvalidArgumentError(StrCat("duration \"", text, "\" is too large"));
      }
      ++pos;
    }
    if (pos == start || pos == text.size()) {
      return InvalidArgumentError(StrCat(
          "bad duration \"", text, "\": want numbers with units d, h, m, s (e.g. 7d, 1d12h)"));
    }
    switch (text[pos]) {
      case 'd': total += absl::Hours(24) * value; break;
      case 'h': total += absl::Hours(value); break;
      case 'm': total += absl::Minutes(value); break;
      case 's': total += absl::Seconds(value); break;
      default:
        return InvalidArgumentError(StrCat("bad duration \"", text, "\": unit '",
                                                       std::string(1, text[pos]),
                                                       "' is not one of d, h, m, s"));
    }
    ++pos;
  }
  return total;
}

absl::Time FloorToDay(absl::Time t) {
  const int64_t secs = absl::ToUnixSeconds(t);
  int64_t day = secs / 86400;
  if (secs % 86400 < 0) --day;
  return absl::FromUnixSeconds(day * 86400);
}

}  // namespace certcast
