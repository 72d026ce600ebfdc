#pragma once
// Reading one request head with its size held to a bound the daemon enforces itself.

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstddef>
#include <tuple>

#include "daemon/net.hpp"

namespace tracecol::http {

/**
 * async_read_header, with the head's size bounded here: Beast 1.81's header_limit does
 * not count the fields a put() consumed before it asked for more, and its read_some goes
 * on reading while the parser needs more, so "a:\r\n" x 8 million read a 32 MB head
 * (its field nodes took 18x that in memory). Here each read is handed to the parser
 * once, and the bytes it consumed, plus any unfinished line it left, are held to
 * max_header: 431 (header_limit) past it.
 */
template <typename Stream>
net::awaitable<std::tuple<boost::system::error_code, std::size_t>> read_head(
    Stream& stream, boost::beast::flat_buffer& buffer, boost::beast::http::request_parser<boost::beast::http::string_body>& parser,
    std::size_t max_header) {
  std::size_t head = 0;
  for (;;) {
    if (buffer.size() > 0) {
      boost::system::error_code ec;
      const std::size_t used = parser.put(buffer.data(), ec);
      buffer.consume(used);
      head += used;
      if (parser.is_header_done()) co_return std::tuple{boost::system::error_code{}, head};
      if (ec && ec != boost::beast::http::error::need_more) co_return std::tuple{ec, head};
      if (head + buffer.size() > max_header) co_return std::tuple{boost::beast::http::error::header_limit, head};
    }
    auto [ec, n] = co_await stream.async_read_some(buffer.prepare(16u << 10), net::as_tuple(net::use_awaitable));
    buffer.commit(n);
    if (ec == net::error::eof) {
      if (!parser.got_some()) co_return std::tuple{boost::system::error_code(boost::beast::http::error::end_of_stream), head};
      boost::system::error_code eof_ec;
      parser.put_eof(eof_ec);  // a head cut short: partial_message, as Beast reports it
      co_return std::tuple{eof_ec ? eof_ec : boost::system::error_code(boost::beast::http::error::partial_message), head};
    }
    if (ec) co_return std::tuple{ec, head};
  }
}

}  // namespace tracecol::http
