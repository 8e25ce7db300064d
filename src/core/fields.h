// One list of a persisted struct's fields, for writing and for reading.
//
// A struct whose state is persisted (the planner's checkpoint, src/plan) declares, beside its
// definition, a free function template
//
//   template <FieldsOf<Foo> S> auto Fields(S& s) { return std::tie(s.a, s.b, s.c); }
//
// that names every persisted field once, in format order. The codec (src/plan/binary_codec.h)
// writes through it with a const Foo and reads through it with a Foo, so the two directions cannot
// drift apart; a field left out of the list is not persisted. Header-only and dependency-free, so
// pure libraries can declare their lists without linking any codec.
#pragma once

#include <string_view>
#include <tuple>
#include <type_traits>

namespace certcast {

// T is U or const U: selects the Fields overload of one struct for both directions.
template <typename T, typename U>
concept FieldsOf = std::is_same_v<std::remove_const_t<T>, U>;

// A field with its name, for lists read and written as named documents (JSON):
//   template <FieldsOf<Foo> S> auto NamedFields(S& s) { return std::tuple{Named{"a", s.a}, ...}; }
template <typename T>
struct Named {
  std::string_view name;
  T& value;
};
template <typename T>
Named(const char*, T&) -> Named<T>;

}  // namespace certcast
