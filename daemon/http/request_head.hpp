#pragma once
// What Beast's parser leaves to us in a request head (RFC 9112): framing, Host and the
// fields the access policy decides on, which a proxy in front and the daemon must read
// alike. Pure: a head in, a refusal or nothing out. The server checks every head with it
// before anything else and closes the connection after a refusal: the bytes that follow a
// head it cannot trust are not a request it may read.

#include <boost/beast/http/message.hpp>

#include <optional>

#include "daemon/http/api.hpp"

namespace tracecol::http {

using RequestHead = boost::beast::http::request_header<>;

/**
 * nullopt when the head may be served; else the answer: 400 for Transfer-Encoding on
 * HTTP/1.0, or a coding list whose final coding is not chunked or that holds chunked twice
 * (RFC 9112 §6.3: the body length cannot be known); 501 for another coding before chunked
 * (gzip, chunked: RFC 9112 §6.1, only chunked is understood); 400 for an HTTP/1.1 request
 * without Host, more than one Host, an empty Host, or more than one Authorization,
 * Sec-Fetch-Site or Origin. Never throws.
 */
std::optional<Response> check_request_head(const RequestHead& head);

}  // namespace tracecol::http
