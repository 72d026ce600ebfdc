// tracectl ls / get / tree: one GET against the HTTP API each.

#include <rapidjson/document.h>

#include <chrono>
#include <cstdio>

#include "client/cli/commands.hpp"
#include "client/cli/exit_codes.hpp"
#include "client/cli/http_client.hpp"
#include "client/cli/pretty_json.hpp"
#include "client/cli/table.hpp"

namespace tracecol::cli {
namespace {

/** The endpoint of --http, or nullopt after complaining. */
std::optional<HttpEndpoint> endpoint_of(const GlobalOptions& global) {
  std::string error;
  auto ep = http_endpoint_with_token(global.http, global.token_file, error);
  if (!ep) complain(error);
  return ep;
}

/** Fetches target; on failure complains and sets code (1, or 3 for a 404). */
std::optional<HttpResult> fetch(const CliOptions& options, const std::string& target, int& code) {
  const auto ep = endpoint_of(options.global);
  if (!ep) {
    code = exit_usage;
    return std::nullopt;
  }
  HttpResult r = http_get(*ep, target, timeout_of(options.global));
  if (!r.ok) {
    complain(r.error);
    code = exit_failure;
    return std::nullopt;
  }
  if (r.status != 200) {
    complain("GET " + target + ": HTTP " + std::to_string(r.status) + ": " + api_error_message(r.body));
    code = r.status == 404 ? exit_not_found : exit_failure;
    return std::nullopt;
  }
  return r;
}

void print(const std::string& text) { std::fwrite(text.data(), 1, text.size(), stdout); }

}  // namespace

int run_ls(const CliOptions& options) {
  const LsOptions& ls = options.ls;
  std::string error;
  std::string query = filter_query(ls.filter, error);
  if (!error.empty()) {
    complain(error);
    return exit_usage;
  }
  const double now_s =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  for (const auto& [key, text] : {std::pair{"since", &ls.since}, std::pair{"until", &ls.until}}) {
    if (text->empty()) continue;
    const auto bound = time_bound(*text, now_s);
    if (!bound) {
      complain(std::string("--") + key + ": expected epoch seconds or a duration like 15m, got '" + *text + "'");
      return exit_usage;
    }
    query += query.empty() ? '?' : '&';
    query += std::string(key) + "=" + *bound;
  }
  query += query.empty() ? '?' : '&';
  query += "limit=" + std::to_string(ls.limit);
  int code = exit_ok;
  const auto r = fetch(options, "/api/traces" + query, code);
  if (!r) return code;
  if (ls.json) {
    print(r->body + "\n");
    return exit_ok;
  }
  bool more = false;
  auto table = traces_table(r->body, error, more);
  if (!table) {
    complain(error);
    return exit_failure;
  }
  print(*table);
  // On stderr, so the table on stdout stays plain rows for scripts.
  if (more) complain("more traces match: raise --limit (up to 1000) or narrow with --until");
  return exit_ok;
}

int run_get(const CliOptions& options) {
  int code = exit_ok;
  const auto r = fetch(options, "/api/traces/" + url_encode(options.get.id), code);
  if (!r) return code;
  if (options.get.raw) {
    print(r->body + "\n");
    return exit_ok;
  }
  rapidjson::Document doc;
  constexpr unsigned flags =
      rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag | rapidjson::kParseNumbersAsStringsFlag;
  doc.Parse<flags>(r->body.data(), r->body.size());
  if (doc.HasParseError()) {
    complain("the daemon's answer is not JSON");
    return exit_failure;
  }
  print(pretty_json(r->body) + "\n");
  return exit_ok;
}

int run_tree(const CliOptions& options) {
  int code = exit_ok;
  const auto r = fetch(options, "/api/traces/" + url_encode(options.tree.id) + "/tree", code);
  if (!r) return code;
  print(r->body);
  if (r->body.empty() || r->body.back() != '\n') print("\n");
  return exit_ok;
}

}  // namespace tracecol::cli
