#pragma once
// The web UI's files, embedded in the binary at build time (embed_assets.cmake writes
// ui_assets() from the files of this folder). Read-only static data: any thread.

#include <span>
#include <string_view>

namespace tracecol::http::ui {

/** One embedded file; every view points into static storage. */
struct UiAsset {
  std::string_view path;          // "/ui/app.js"
  std::string_view content_type;  // "text/javascript; charset=utf-8"
  std::string_view etag;          // strong ETag, quoted: "\"0123456789abcdef\""
  std::string_view body;
};

/** Every embedded asset (generated). */
std::span<const UiAsset> ui_assets();

/** The asset served at a decoded request path: "/" is index.html, "/ui/NAME" a file; nullptr otherwise. */
const UiAsset* find_ui_asset(std::string_view path);

/**
 * True when an If-None-Match header value names etag: "*", or a comma-separated list of
 * entity tags compared weakly (a W/ prefix is ignored, as RFC 9110 says for GET).
 */
bool etag_matches(std::string_view if_none_match, std::string_view etag);

}  // namespace tracecol::http::ui
