#pragma once
// Writes one prepared answer. Most answers own their body (string_body); a cached trace
// record (Response::shared_body) is sent straight from the shared immutable bytes, with no
// copy into the message: a 50-span record is ~35 KB, and copying it per GET cost as much
// as the rest of a cached answer.

#include <boost/beast/http/span_body.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <memory>
#include <string>
#include <tuple>

#include "daemon/net.hpp"
#include "daemon/store/trace_record.hpp"

namespace tracecol::http {

/**
 * Writes out, or, when shared is set, out's header with shared's bytes as the body
 * (out's own body is ignored; out is left moved-from). head: a HEAD answer keeps the
 * Content-Length and sends no body. shared must stay alive until the write completes:
 * the caller's reference does that across the co_await.
 */
template <class Stream>
net::awaitable<std::tuple<boost::beast::error_code, std::size_t>> write_answer(
    Stream& stream, boost::beast::http::response<boost::beast::http::string_body>& out,
    const std::shared_ptr<const store::TraceRecord>& shared, bool head) {
  namespace bhttp = boost::beast::http;
  if (!shared) co_return co_await bhttp::async_write(stream, out, net::as_tuple(net::use_awaitable));
  bhttp::response<bhttp::span_body<const char>> msg(std::move(out.base()));
  msg.content_length(shared->size());
  if (!head) msg.body() = bhttp::span_body<const char>::value_type(shared->data(), shared->size());
  co_return co_await bhttp::async_write(stream, msg, net::as_tuple(net::use_awaitable));
}

}  // namespace tracecol::http
