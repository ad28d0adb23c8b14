// SPDX-License-Identifier: MIT OR Apache-2.0
// sendable: which values may cross from one runtime (thread) to another (contract S2).
#pragma once

#include <array>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

namespace stakker {

template <class T>
class actor;
template <class T>
class actor_own;
class actor_own_anon;
template <class T>
class ret;
template <class T>
class fwd;
template <class T>
class share;
template <class T>
class cx;

namespace shard {

// Why a type may not cross runtimes. Values (numbers, strings, containers of values, your
// own structs) may; a runtime's single-threaded handles may not, and a raw pointer may
// point into an actor's state. Specialise `stakker::shard::sendable_override<T>` as
// `std::true_type` for a type of yours that holds such a thing safely (or as
// `std::false_type` to reject one of your own).
enum class not_sendable {
  none,
  actor_handle,  // actor<B>, actor_own<B>, actor_own_anon: pass a remote<B>
  local_ret,     // ret<T>: pass make_remote(std::move(r))
  local_fwd,     // fwd<T>: pass make_remote(f)
  shared_state,  // share<T>: pass a copy of the value
  context,       // cx<A>
  raw_pointer,   // T*: pass the value it points to
  view,          // std::basic_string_view, std::span: pass a std::string / std::vector
  reference,     // std::reference_wrapper<T>
  user,          // sendable_override<T> is false
};

template <class T>
struct sendable_override;  // undefined: no opinion

namespace detail {

template <class T>
struct why_not_sendable_t;

template <class T>
constexpr not_sendable why_not_sendable_v() {
  if constexpr (requires { sendable_override<T>::value; }) {
    return sendable_override<T>::value ? not_sendable::none : not_sendable::user;
  } else {
    return why_not_sendable_t<T>::value;
  }
}

template <class... T>
constexpr not_sendable first_reason() {
  not_sendable r = not_sendable::none;
  ((r = r == not_sendable::none ? why_not_sendable_v<std::remove_cv_t<T>>() : r), ...);
  return r;
}

template <class T>
struct why_not_sendable_t {
  static constexpr not_sendable value = std::is_pointer_v<T> || std::is_member_pointer_v<T>
                                            ? not_sendable::raw_pointer
                                            : not_sendable::none;
};
template <class T>
struct why_not_sendable_t<actor<T>>
    : std::integral_constant<not_sendable, not_sendable::actor_handle> {};
template <class T>
struct why_not_sendable_t<actor_own<T>>
    : std::integral_constant<not_sendable, not_sendable::actor_handle> {};
template <>
struct why_not_sendable_t<actor_own_anon>
    : std::integral_constant<not_sendable, not_sendable::actor_handle> {};
template <class T>
struct why_not_sendable_t<ret<T>> : std::integral_constant<not_sendable, not_sendable::local_ret> {
};
template <class T>
struct why_not_sendable_t<fwd<T>> : std::integral_constant<not_sendable, not_sendable::local_fwd> {
};
template <class T>
struct why_not_sendable_t<share<T>>
    : std::integral_constant<not_sendable, not_sendable::shared_state> {};
template <class T>
struct why_not_sendable_t<cx<T>> : std::integral_constant<not_sendable, not_sendable::context> {};
template <class C, class Tr>
struct why_not_sendable_t<std::basic_string_view<C, Tr>>
    : std::integral_constant<not_sendable, not_sendable::view> {};
template <class T, std::size_t N>
struct why_not_sendable_t<std::span<T, N>>
    : std::integral_constant<not_sendable, not_sendable::view> {};
template <class T>
struct why_not_sendable_t<std::reference_wrapper<T>>
    : std::integral_constant<not_sendable, not_sendable::reference> {};

// Containers and wrappers are as sendable as what they hold.
template <class... T>
struct reason_of : std::integral_constant<not_sendable, first_reason<T...>()> {};
template <class T, class A>
struct why_not_sendable_t<std::vector<T, A>> : reason_of<T> {};
template <class T, class A>
struct why_not_sendable_t<std::deque<T, A>> : reason_of<T> {};
template <class T, std::size_t N>
struct why_not_sendable_t<std::array<T, N>> : reason_of<T> {};
template <class T, std::size_t N>
struct why_not_sendable_t<T[N]> : reason_of<T> {};
template <class T>
struct why_not_sendable_t<std::optional<T>> : reason_of<T> {};
template <class T, class D>
struct why_not_sendable_t<std::unique_ptr<T, D>> : reason_of<T> {};
template <class T>
struct why_not_sendable_t<std::shared_ptr<T>> : reason_of<T> {};
template <class A, class B>
struct why_not_sendable_t<std::pair<A, B>> : reason_of<A, B> {};
template <class... T>
struct why_not_sendable_t<std::tuple<T...>> : reason_of<T...> {};
template <class... T>
struct why_not_sendable_t<std::variant<T...>> : reason_of<T...> {};
template <class K, class C, class A>
struct why_not_sendable_t<std::set<K, C, A>> : reason_of<K> {};
template <class K, class V, class C, class A>
struct why_not_sendable_t<std::map<K, V, C, A>> : reason_of<K, V> {};
template <class K, class H, class E, class A>
struct why_not_sendable_t<std::unordered_set<K, H, E, A>> : reason_of<K> {};
template <class K, class V, class H, class E, class A>
struct why_not_sendable_t<std::unordered_map<K, V, H, E, A>> : reason_of<K, V> {};

// One readable error per reason, naming the sendable form. `What` names the place (for
// instance "stakker::call through remote<A>").
template <class T>
constexpr bool check_sendable() {
  constexpr not_sendable r = why_not_sendable_v<std::remove_cv_t<T>>();
  static_assert(r != not_sendable::actor_handle,
                "stakker: an actor handle (actor<B>, actor_own<B>) cannot cross runtimes; pass "
                "a remote<B> made on the actor's runtime with make_remote(actor)");
  static_assert(r != not_sendable::local_ret,
                "stakker: a ret<T> cannot cross runtimes; pass make_remote(std::move(r)), a "
                "remote_ret<T> answered on the runtime that made it");
  static_assert(r != not_sendable::local_fwd,
                "stakker: a fwd<T> cannot cross runtimes; pass make_remote(f), a remote_fwd<T> "
                "that delivers on the runtime that made it");
  static_assert(r != not_sendable::shared_state,
                "stakker: a share<T> is single-threaded and cannot cross runtimes; pass a copy "
                "of the value");
  static_assert(r != not_sendable::context, "stakker: a cx<A> cannot cross runtimes");
  static_assert(r != not_sendable::raw_pointer,
                "stakker: a raw pointer cannot cross runtimes (it may point into an actor's "
                "state); pass the value, or a std::unique_ptr / std::shared_ptr to it");
  static_assert(r != not_sendable::view,
                "stakker: a std::string_view or std::span cannot cross runtimes (it points into "
                "memory the sender may free or change); pass a std::string or std::vector");
  static_assert(r != not_sendable::reference,
                "stakker: a std::reference_wrapper cannot cross runtimes; pass the value");
  static_assert(r != not_sendable::user,
                "stakker: sendable_override<T> says this type cannot cross runtimes");
  return r == not_sendable::none;
}

}  // namespace detail

// Whether `T` may cross runtimes.
template <class T>
inline constexpr bool is_sendable_v =
    detail::why_not_sendable_v<std::remove_cv_t<std::remove_reference_t<T>>>() ==
    not_sendable::none;

}  // namespace shard
}  // namespace stakker
