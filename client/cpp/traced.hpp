#pragma once
// Tracer::traced: the seed's @traced for any C++ callable. Included by tracer.hpp.

#include <concepts>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "client/cpp/tracer.hpp"

namespace tracecol::client {

namespace detail {

template <class T>
void add_value(JsonObject& o, std::string_view key, const T& v) {
  using U = std::remove_cvref_t<T>;
  if constexpr (std::same_as<U, JsonObject>) o.add(key, v);
  else if constexpr (std::same_as<U, bool>) o.add(key, v);
  else if constexpr (std::same_as<U, char>) o.add(key, std::string_view(&v, 1));
  else if constexpr (std::integral<U> || std::floating_point<U>) o.add(key, v);
  else if constexpr (std::is_convertible_v<const U&, std::string_view>) o.add(key, std::string_view(v));
  // Anything else has no JSON form here and is left out.
}

template <class... Args>
JsonObject arguments_json(const Args&... args) {
  JsonObject o;
  std::size_t i = 0;
  char key[24];
  (
      [&] {
        const int n = std::snprintf(key, sizeof key, "arg%zu", i++);
        add_value(o, std::string_view(key, static_cast<std::size_t>(n)), args);
      }(),
      ...);
  (void)i;  // unused when there are no arguments
  return o;
}

template <class T>
JsonObject result_json(const T& v) {
  if constexpr (std::same_as<std::remove_cvref_t<T>, JsonObject>) {
    return v;
  } else {
    JsonObject o;
    add_value(o, "result", v);
    return o;
  }
}

bool include_inputs(const TracerCore& core);
bool include_outputs(const TracerCore& core);
Span start_span(const std::shared_ptr<TracerCore>& core, std::string_view name, SpanKind kind);

}  // namespace detail

template <class F>
auto Tracer::traced(std::string name, SpanKind kind, F fn) const {
  return [core = core_, name = std::move(name), kind, fn = std::move(fn)](auto&&... args) mutable -> decltype(auto) {
    Span span = detail::start_span(core, name, kind);
    if (span.recording() && detail::include_inputs(*core)) span.set_inputs(detail::arguments_json(args...));
    try {
      using R = std::invoke_result_t<F&, decltype(args)...>;
      if constexpr (std::is_void_v<R>) {
        std::invoke(fn, std::forward<decltype(args)>(args)...);
        span.finish();
      } else {
        decltype(auto) result = std::invoke(fn, std::forward<decltype(args)>(args)...);
        if (span.recording() && detail::include_outputs(*core)) span.finish(detail::result_json(result));
        else span.finish();
        return result;
      }
    } catch (const std::exception& e) {
      span.set_error(e.what());
      throw;
    } catch (...) {
      span.set_error("unknown exception");
      throw;
    }
  };
}

}  // namespace tracecol::client
