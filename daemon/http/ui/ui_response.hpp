#pragma once
// GET / and GET /ui/* answered from the embedded assets, with caching (ETag, 304) and
// the security headers the UI relies on (a strict Content-Security-Policy: no inline
// script, nothing loaded from elsewhere). Pure; any thread.

#include <string_view>

#include "daemon/http/api.hpp"

namespace tracecol::http::ui {

/** The Content-Security-Policy sent with every UI asset. */
inline constexpr std::string_view content_security_policy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * The asset at path (see find_ui_asset) as a 200, or a 304 without body when
 * if_none_match names its ETag, or a JSON 404. Every 200/304 carries ETag,
 * Cache-Control: no-cache (revalidate: the URLs are not versioned),
 * Content-Security-Policy, X-Content-Type-Options: nosniff and Referrer-Policy.
 */
Response ui_response(std::string_view path, std::string_view if_none_match);

}  // namespace tracecol::http::ui
