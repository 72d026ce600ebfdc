#include "daemon/http/ui/ui_response.hpp"

#include "daemon/http/ui/ui_assets.hpp"

namespace tracecol::http::ui {

Response ui_response(std::string_view path, std::string_view if_none_match) {
  const UiAsset* asset = find_ui_asset(path);
  if (!asset) return error_response(404, "not found");
  Response r;
  r.content_type = std::string(asset->content_type);
  r.headers = {
      {"ETag", std::string(asset->etag)},
      {"Cache-Control", "no-cache"},
      {"Content-Security-Policy", std::string(content_security_policy)},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
  };
  if (!if_none_match.empty() && etag_matches(if_none_match, asset->etag)) {
    r.status = 304;
    return r;
  }
  r.body = std::string(asset->body);
  return r;
}

}  // namespace tracecol::http::ui
