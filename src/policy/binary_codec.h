// A minimal binary writer/reader for the planner's checkpoint (plan_state.h): fixed-width
// little-endian integers and doubles (bit-exact, so restored state computes the same floating-point
// results as the state it was saved from), length-prefixed strings, and events as their canonical
// events-v1 line (one codec for events, maintained with the format).
//
// The reader never reads past its input: a truncated or corrupt checkpoint is DataLoss naming the
// field, and the caller rebuilds from events.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "core/event.h"
#include "core/event_json.h"
#include "core/status.h"
#include "core/strings.h"

namespace certcast::policy {

static_assert(std::endian::native == std::endian::little, "checkpoints are written little-endian");

class BinaryWriter {
 public:
  void U64(uint64_t v) { Raw(&v, sizeof v); }
  void I64(int64_t v) { Raw(&v, sizeof v); }
  void I32(int32_t v) { Raw(&v, sizeof v); }
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void Bool(bool v) { U8(v ? 1 : 0); }
  void F64(double v) { Raw(&v, sizeof v); }
  // absl::Time including the infinite past/future (as their sentinel values).
  void Time(absl::Time t) {
    if (t == absl::InfinitePast()) return I64(INT64_MIN);
    if (t == absl::InfiniteFuture()) return I64(INT64_MAX);
    I64(absl::ToUnixMicros(t));
  }
  void Str(std::string_view s) {
    U64(s.size());
    out_.append(s);
  }
  void Strings(const std::vector<std::string>& v) {
    U64(v.size());
    for (const auto& s : v) Str(s);
  }
  void EventLine(absl::Time ts, EventBody body) {
    line_.clear();
    AppendEventJson(Event{ts, std::move(body)}, line_);
    Str(line_);
  }
  template <typename T, typename Fn>
  void Optional(const std::optional<T>& v, Fn write) {
    Bool(v.has_value());
    if (v) write(*v);
  }
  std::string Take() { return std::move(out_); }
  size_t size() const { return out_.size(); }

 private:
  void Raw(const void* p, size_t n) { out_.append(static_cast<const char*>(p), n); }
  std::string out_;
  std::string line_;
};

class BinaryReader {
 public:
  explicit BinaryReader(std::string_view in) : in_(in) {}

  Status U64(uint64_t& v) { return Raw(&v, sizeof v, "u64"); }
  Status I64(int64_t& v) { return Raw(&v, sizeof v, "i64"); }
  Status I32(int32_t& v) { return Raw(&v, sizeof v, "i32"); }
  Status U8(uint8_t& v) { return Raw(&v, sizeof v, "u8"); }
  Status Bool(bool& v) {
    uint8_t b = 0;
    RETURN_IF_ERROR(U8(b));
    if (b > 1) return Corrupt("bool");
    v = b == 1;
    return OkStatus();
  }
  Status F64(double& v) { return Raw(&v, sizeof v, "f64"); }
  Status Time(absl::Time& t) {
    int64_t us = 0;
    RETURN_IF_ERROR(I64(us));
    t = us == INT64_MIN   ? absl::InfinitePast()
        : us == INT64_MAX ? absl::InfiniteFuture()
                          : absl::FromUnixMicros(us);
    return OkStatus();
  }
  Status Size(size_t& n) {
    uint64_t v = 0;
    RETURN_IF_ERROR(U64(v));
    // No element takes less than one byte, so a count beyond the remaining bytes is corrupt
    // (and would otherwise make a reserve() allocate without bound).
    if (v > in_.size() - pos_) return Corrupt("count");
    n = static_cast<size_t>(v);
    return OkStatus();
  }
  Status Str(std::string& s) {
    size_t n = 0;
    RETURN_IF_ERROR(Size(n));
    s.assign(in_.substr(pos_, n));
    pos_ += n;
    return OkStatus();
  }
  Status Strings(std::vector<std::string>& v) {
    size_t n = 0;
    RETURN_IF_ERROR(Size(n));
    v.resize(n);
    for (auto& s : v) RETURN_IF_ERROR(Str(s));
    return OkStatus();
  }
  // An event line of the expected type; returns its body.
  template <typename T>
  Status EventBodyOf(T& body, absl::Time* ts = nullptr) {
    RETURN_IF_ERROR(Str(line_));
    auto event = parser_.Parse(line_);
    if (!event.ok()) return DataLossError(StrCat("checkpoint: stored event unreadable: ", event.status().message()));
    const T* typed = event->template As<T>();
    if (typed == nullptr) return Corrupt("event type");
    body = *typed;
    if (ts) *ts = event->ts;
    return OkStatus();
  }
  template <typename T, typename Fn>
  Status Optional(std::optional<T>& v, Fn read) {
    bool present = false;
    RETURN_IF_ERROR(Bool(present));
    if (!present) {
      v.reset();
      return OkStatus();
    }
    T value{};
    RETURN_IF_ERROR(read(value));
    v = std::move(value);
    return OkStatus();
  }
  bool done() const { return pos_ == in_.size(); }
  size_t position() const { return pos_; }

 private:
  Status Raw(void* p, size_t n, std::string_view what) {
    if (in_.size() - pos_ < n) return Corrupt(what);
    std::memcpy(p, in_.data() + pos_, n);
    pos_ += n;
    return OkStatus();
  }
  Status Corrupt(std::string_view what) const {
    return DataLossError(StrCat("checkpoint: truncated or corrupt ", what, " at byte ", pos_));
  }
  std::string_view in_;
  size_t pos_ = 0;
  std::string line_;
  EventParser parser_;
};

// Field codecs: Put(writer, value) and Get(reader, value) for plain values and the standard
// containers, so a struct's codec is one line per field. Struct codecs are overloads found by
// argument-dependent lookup.
inline void Put(BinaryWriter& w, bool v) { w.Bool(v); }
inline void Put(BinaryWriter& w, int32_t v) { w.I32(v); }
inline void Put(BinaryWriter& w, int64_t v) { w.I64(v); }
inline void Put(BinaryWriter& w, uint32_t v) { w.U64(v); }
inline void Put(BinaryWriter& w, uint64_t v) { w.U64(v); }
inline void Put(BinaryWriter& w, double v) { w.F64(v); }
inline void Put(BinaryWriter& w, absl::Time v) { w.Time(v); }
inline void Put(BinaryWriter& w, const std::string& v) { w.Str(v); }
template <typename E>
  requires std::is_enum_v<E>
void Put(BinaryWriter& w, E v) {
  w.I64(static_cast<int64_t>(v));
}

inline Status Get(BinaryReader& r, bool& v) { return r.Bool(v); }
inline Status Get(BinaryReader& r, int32_t& v) { return r.I32(v); }
inline Status Get(BinaryReader& r, int64_t& v) { return r.I64(v); }
inline Status Get(BinaryReader& r, uint32_t& v) {
  uint64_t x = 0;
  RETURN_IF_ERROR(r.U64(x));
  v = static_cast<uint32_t>(x);
  return OkStatus();
}
inline Status Get(BinaryReader& r, uint64_t& v) { return r.U64(v); }
inline Status Get(BinaryReader& r, double& v) { return r.F64(v); }
inline Status Get(BinaryReader& r, absl::Time& v) { return r.Time(v); }
inline Status Get(BinaryReader& r, std::string& v) { return r.Str(v); }
// Enums are checked against their largest value `EnumMax<E>()`: a corrupt byte must not become
// an enumerator that ToString() does not know.
template <typename E>
constexpr int64_t EnumMax();
template <> constexpr int64_t EnumMax<Client>() { return static_cast<int64_t>(Client::kOther); }
template <> constexpr int64_t EnumMax<Challenge>() { return static_cast<int64_t>(Challenge::kTlsAlpn01); }
template <> constexpr int64_t EnumMax<Outcome>() { return static_cast<int64_t>(Outcome::kFailure); }
template <> constexpr int64_t EnumMax<ProbeOutcome>() { return static_cast<int64_t>(ProbeOutcome::kError); }
template <> constexpr int64_t EnumMax<TlsError>() { return static_cast<int64_t>(TlsError::kRevoked); }
template <> constexpr int64_t EnumMax<Rcode>() { return static_cast<int64_t>(Rcode::kTimeout); }
template <> constexpr int64_t EnumMax<Dnssec>() { return static_cast<int64_t>(Dnssec::kBogus); }
template <> constexpr int64_t EnumMax<CredentialKind>() { return static_cast<int64_t>(CredentialKind::kAccountKey); }
template <typename E>
  requires std::is_enum_v<E>
Status Get(BinaryReader& r, E& v) {
  int64_t x = 0;
  RETURN_IF_ERROR(r.I64(x));
  if (x < 0 || x > EnumMax<E>()) return DataLossError(StrCat("checkpoint: enum value ", x, " out of range at byte ", r.position()));
  v = static_cast<E>(x);
  return OkStatus();
}

template <typename T>
void Put(BinaryWriter& w, const std::optional<T>& v) {
  w.Bool(v.has_value());
  if (v) Put(w, *v);
}
template <typename A, typename B>
void Put(BinaryWriter& w, const std::pair<A, B>& v) {
  Put(w, v.first);
  Put(w, v.second);
}
// Sequences and ordered associative containers, in their iteration order.
template <typename C>
  requires requires(const C& c) { c.begin(); c.size(); typename C::value_type; } &&
           (!std::is_same_v<C, std::string>)
void Put(BinaryWriter& w, const C& c) {
  w.U64(c.size());
  for (const auto& v : c) Put(w, v);
}

template <typename T>
Status Get(BinaryReader& r, std::optional<T>& v) {
  return r.Optional(v, [&](T& x) { return Get(r, x); });
}
template <typename A, typename B>
Status Get(BinaryReader& r, std::pair<A, B>& v) {
  RETURN_IF_ERROR(Get(r, v.first));
  return Get(r, v.second);
}
template <typename C>
  requires requires(C& c) { c.push_back(std::declval<typename C::value_type>()); } &&
           (!std::is_same_v<C, std::string>)
Status Get(BinaryReader& r, C& c) {
  size_t n = 0;
  RETURN_IF_ERROR(r.Size(n));
  c.clear();
  for (size_t i = 0; i < n; ++i) {
    typename C::value_type v{};
    RETURN_IF_ERROR(Get(r, v));
    c.push_back(std::move(v));
  }
  return OkStatus();
}
// Hash maps, sorted by key so that equal states give equal bytes (hash order is not state).
template <typename M>
void PutSorted(BinaryWriter& w, const M& m) {
  std::vector<const typename M::value_type*> entries;
  entries.reserve(m.size());
  for (const auto& e : m) entries.push_back(&e);
  std::sort(entries.begin(), entries.end(), [](auto* a, auto* b) { return a->first < b->first; });
  w.U64(entries.size());
  for (const auto* e : entries) {
    Put(w, e->first);
    Put(w, e->second);
  }
}

// Sets and maps (std:: and absl:: alike): insert what was read.
template <typename S>
Status GetSet(BinaryReader& r, S& s) {
  size_t n = 0;
  RETURN_IF_ERROR(r.Size(n));
  s.clear();
  for (size_t i = 0; i < n; ++i) {
    typename S::value_type v{};
    RETURN_IF_ERROR(Get(r, v));
    s.insert(std::move(v));
  }
  return OkStatus();
}
template <typename M>
Status GetMap(BinaryReader& r, M& m) {
  size_t n = 0;
  RETURN_IF_ERROR(r.Size(n));
  m.clear();
  for (size_t i = 0; i < n; ++i) {
    typename M::key_type k{};
    typename M::mapped_type v{};
    RETURN_IF_ERROR(Get(r, k));
    RETURN_IF_ERROR(Get(r, v));
    m.emplace(std::move(k), std::move(v));
  }
  return OkStatus();
}

}  // namespace certcast::policy
