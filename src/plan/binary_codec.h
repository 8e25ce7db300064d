// A minimal binary writer/reader for the planner's checkpoint (plan_state.h): fixed-width
// little-endian integers and doubles (bit-exact, so restored state computes the same floating-point
// results as the state it was saved from), variable-length counts, and strings written once: a
// string seen before is a back-reference to its first occurrence. A lineage's cert name, CA URL,
// host and serials recur across its own records, across lineages and between the lineage views and
// the forecaster's state, so most strings of a fleet's state are repeats. Event bodies are written
// field by field (format 2 wrote their JSON line, whose parsing was most of the decode time).
// 10,000 lineages after 119 days: 59.2 MB in format 2, 18.6 MB in format 3 (docs/benchmarks.md).
//
// The reader never reads past its input: a truncated or corrupt checkpoint is DataLoss naming the
// field, and the caller rebuilds from events.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
#include "absl/time/time.h"
#include "core/event.h"
#include "core/fields.h"
#include "core/status.h"
#include "core/strings.h"

namespace certcast::plan {

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
  // LEB128: counts and lengths are mostly small.
  void Size(uint64_t v) {
    while (v >= 0x80) {
      U8(static_cast<uint8_t>(v | 0x80));
      v >>= 7;
    }
    U8(static_cast<uint8_t>(v));
  }
  // A string: (length << 1) then its bytes the first time, (index << 1 | 1) after that, index
  // counting the distinct non-empty strings in order of first appearance.
  void Str(std::string_view s) {
    if (s.empty()) return Size(0);
    if (auto it = seen_.find(s); it != seen_.end()) return Size(uint64_t{it->second} << 1 | 1);
    // Keys view copies: some strings written are temporaries of the caller. A deque never moves
    // its elements, so the views stay valid.
    seen_.emplace(kept_.emplace_back(s), static_cast<uint32_t>(seen_.size()));
    Size(uint64_t{s.size()} << 1);
    out_.append(s);
  }
  // A length-prefixed string that is never a back-reference (the checkpoint's header, which must
  // read the same in every format).
  void FixedStr(std::string_view s) {
    U64(s.size());
    out_.append(s);
  }
  template <typename T, typename Fn>
  void Optional(const std::optional<T>& v, Fn write) {
    Bool(v.has_value());
    if (v) write(*v);
  }
  // The output grows by doubling: a checkpoint of 19.6 MB passed through buffers of 31 MB in all
  // and as many page faults. Reserving the expected size (the previous checkpoint's) avoids both.
  void Reserve(size_t n) { out_.reserve(n); }
  std::string Take() { return std::move(out_); }
  size_t size() const { return out_.size(); }

 private:
  void Raw(const void* p, size_t n) { out_.append(static_cast<const char*>(p), n); }
  std::string out_;
  std::deque<std::string> kept_;
  // std::hash: Debian's abseil hashes its own string_view, not std::string_view.
  absl::flat_hash_map<std::string_view, uint32_t, std::hash<std::string_view>> seen_;
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
  Status Varint(uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ == in_.size()) return Corrupt("count");
      const uint8_t b = static_cast<uint8_t>(in_[pos_++]);
      v |= uint64_t{b & 0x7fu} << shift;
      if (b < 0x80) return OkStatus();
    }
    return Corrupt("count");
  }
  // A count of elements. No element takes less than one byte, so a count beyond the remaining
  // bytes is corrupt (and would otherwise make a reserve() allocate without bound).
  Status Size(size_t& n) {
    uint64_t v = 0;
    RETURN_IF_ERROR(Varint(v));
    if (v > in_.size() - pos_) return Corrupt("count");
    n = static_cast<size_t>(v);
    return OkStatus();
  }
  // The string is a view of the input (or of nothing): valid as long as the input is.
  Status Str(std::string_view& s) {
    uint64_t v = 0;
    RETURN_IF_ERROR(Varint(v));
    if (v & 1) {
      if ((v >> 1) >= seen_.size()) return Corrupt("string reference");
      s = seen_[v >> 1];
      return OkStatus();
    }
    const uint64_t n = v >> 1;
    if (n > in_.size() - pos_) return Corrupt("string");
    s = in_.substr(pos_, n);
    pos_ += n;
    if (n > 0) seen_.push_back(s);
    return OkStatus();
  }
  Status Str(std::string& s) {
    std::string_view v;
    RETURN_IF_ERROR(Str(v));
    s.assign(v);
    return OkStatus();
  }
  Status FixedStr(std::string& s) {
    uint64_t n = 0;
    RETURN_IF_ERROR(U64(n));
    if (n > in_.size() - pos_) return Corrupt("string");
    s.assign(in_.substr(pos_, n));
    pos_ += n;
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
  std::vector<std::string_view> seen_;  // distinct strings so far, views of in_
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
  static_assert(sizeof(E) == 1, "enums are written as one byte");
  w.U8(static_cast<uint8_t>(v));
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
  uint8_t x = 0;
  RETURN_IF_ERROR(r.U8(x));
  if (x > EnumMax<E>()) return DataLossError(StrCat("checkpoint: enum value ", int{x}, " out of range at byte ", r.position()));
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
  w.Size(c.size());
  for (const auto& v : c) Put(w, v);
}

// Hash containers, sorted so that equal states give equal bytes (hash order is not state).
template <typename K, typename H, typename E, typename A>
void Put(BinaryWriter& w, const absl::flat_hash_set<K, H, E, A>& set) {
  std::vector<const K*> keys;
  keys.reserve(set.size());
  for (const K& k : set) keys.push_back(&k);
  std::sort(keys.begin(), keys.end(), [](const K* a, const K* b) { return *a < *b; });
  w.Size(keys.size());
  for (const K* k : keys) Put(w, *k);
}
template <typename K, typename V, typename H, typename E, typename A>
void Put(BinaryWriter& w, const absl::flat_hash_map<K, V, H, E, A>& map);  // PutSorted, below
template <typename K, typename V, typename H, typename E, typename A>
void Put(BinaryWriter& w, const absl::node_hash_map<K, V, H, E, A>& map);  // PutSorted, below
// Fixed-size arrays: their elements, no count.
template <typename T, size_t N>
void Put(BinaryWriter& w, const T (&array)[N]) {
  for (const T& v : array) Put(w, v);
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
// Containers that can are sized once: a restore inserts millions of elements.
template <typename C>
void ReserveFor(C& c, size_t n) {
  if constexpr (requires { c.reserve(n); }) c.reserve(n);
}
template <typename C>
  requires requires(C& c) { c.push_back(std::declval<typename C::value_type>()); } &&
           (!std::is_same_v<C, std::string>)
Status Get(BinaryReader& r, C& c) {
  size_t n = 0;
  RETURN_IF_ERROR(r.Size(n));
  c.clear();
  ReserveFor(c, n);
  for (size_t i = 0; i < n; ++i) {
    // Read in place: moving a large element (a lineage's state) costs as much as reading it.
    RETURN_IF_ERROR(Get(r, c.emplace_back()));
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
  w.Size(entries.size());
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
  ReserveFor(s, n);
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
  ReserveFor(m, n);
  for (size_t i = 0; i < n; ++i) {
    typename M::key_type k{};
    RETURN_IF_ERROR(Get(r, k));
    // The value is read in place (a repeated key, only in corrupt input, is read over).
    RETURN_IF_ERROR(Get(r, m.try_emplace(std::move(k)).first->second));
  }
  return OkStatus();
}
template <typename K, typename V, typename H, typename E, typename A>
void Put(BinaryWriter& w, const absl::flat_hash_map<K, V, H, E, A>& map) {
  PutSorted(w, map);
}
template <typename K, typename V, typename H, typename E, typename A>
void Put(BinaryWriter& w, const absl::node_hash_map<K, V, H, E, A>& map) {
  PutSorted(w, map);
}
// Sets and maps read through Get, so that a Fields list can name them like any other field.
template <typename S>
  requires requires(S& s) { typename S::key_type; s.insert(std::declval<typename S::value_type>()); } &&
           (!requires { typename S::mapped_type; })
Status Get(BinaryReader& r, S& s) {
  return GetSet(r, s);
}
template <typename M>
  requires requires { typename M::key_type; typename M::mapped_type; }
Status Get(BinaryReader& r, M& m) {
  return GetMap(r, m);
}
template <typename T, size_t N>
Status Get(BinaryReader& r, T (&array)[N]) {
  for (T& v : array) RETURN_IF_ERROR(Get(r, v));
  return OkStatus();
}

// Event bodies the folded state keeps (latest config, certificate, ARI answer, deploy) are written
// through their Fields lists (core/event.h). The sizes pin them (x86-64, libstdc++): a field added
// to one of these events must be added to its list (and kPlanStateFormat bumped).
static_assert(sizeof(ConfigEvent) == 312 && sizeof(IssuedEvent) == 152 && sizeof(AriEvent) == 152 &&
                  sizeof(DeployEvent) == 112,
              "core/event.h changed: update the event's Fields list there and kPlanStateFormat");

// A struct with a Fields list (core/fields.h) is written and read in that order, one codec for
// both directions.
template <typename T>
  requires requires(const T& v) { Fields(v); }
void Put(BinaryWriter& w, const T& v) {
  std::apply([&](const auto&... field) { (Put(w, field), ...); }, Fields(v));
}
template <typename T>
  requires requires(T& v) { Fields(v); }
Status Get(BinaryReader& r, T& v) {
  Status s = OkStatus();
  std::apply([&](auto&... field) { ((s.ok() ? void(s = Get(r, field)) : void()), ...); }, Fields(v));
  return s;
}

}  // namespace certcast::plan
