// The HTTP API fed raw request bytes through Beast's parser from memory (no socket):
// whatever arrives, dispatch answers without crashing, with a known status, and every
// JSON answer is valid JSON. POSTed spans go through the real pipeline into a real
// store that persists across inputs, so queries run against what earlier inputs stored.

#include <boost/beast/http.hpp>

#include <rapidjson/document.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstdint>
#include <string>
#include <string_view>

#include "daemon/export/fan_out.hpp"
#include "daemon/http/dispatch.hpp"
#include "daemon/pipeline.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace th = tracecol::http;
namespace bhttp = boost::beast::http;
namespace net = tracecol::net;

namespace {

struct Rig {
  net::io_context io;
  tracecol::exporters::FanOut fan_out;
  tracecol::daemon::Pipeline pipeline{io, {}, {200, 4u << 20}, fan_out};
  th::ServerOptions options = [] {
    th::ServerOptions o;
    o.max_body = 64u << 10;
    o.max_header = 8u << 10;
    return o;
  }();
  th::ServerContext context{pipeline.store(), pipeline, nullptr, nullptr, {}, nullptr};
  th::RequestCounters requests;
};

bool known_status(unsigned s) {
  switch (s) {
    case 200: case 202: case 204: case 304: case 400: case 404: case 405: case 413: case 415: case 429: case 431:
    case 503:
      return true;
    default:
      return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Rig rig;
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(rig.options.max_header);
  parser.body_limit(rig.options.max_body);
  parser.eager(true);
  boost::beast::error_code ec;
  const auto consumed = parser.put(net::buffer(data, size), ec);
  FUZZ_CHECK(consumed <= size);
  if (ec || !parser.is_done()) return 0;  // the server answers these 400/413/431 without dispatching

  const th::DispatchContext ctx{rig.options, rig.context, rig.requests, false};
  th::Response response;
  std::string_view label;
  bool answered = false;
  net::co_spawn(
      rig.io,
      [&]() -> net::awaitable<void> {
        response = co_await th::dispatch(ctx, parser.get(), label);
        answered = true;
      },
      net::detached);
  // Run until the answer is in, not until the context is idle: ingest arms timers (trace
  // linger, idle timeout) that would keep run() waiting for seconds.
  rig.io.restart();
  while (!answered && rig.io.run_one()) {
  }
  rig.io.poll();
  FUZZ_CHECK(answered);
  FUZZ_CHECK(known_status(response.status));
  FUZZ_CHECK(!label.empty());
  // A cached trace record is answered from shared immutable bytes, not from body.
  const std::string_view body = response.shared_body ? response.shared_body->view() : std::string_view(response.body);
  if (response.content_type == "application/json") {
    rapidjson::Document doc;
    doc.Parse(body.data(), body.size());
    if (doc.HasParseError()) {  // show what broke: the target and the answer around the error
      const auto at = doc.GetErrorOffset();
      const auto from = at > 200 ? at - 200 : 0;
      std::fprintf(stderr, "status %u %s: invalid JSON at offset %zu of %zu: ...%.*s<HERE>%.*s...\n",
                   response.status, std::string(parser.get().target()).c_str(), at, body.size(),
                   static_cast<int>(at - from), body.data() + from,
                   static_cast<int>(std::min<std::size_t>(200, body.size() - at)), body.data() + at);
    }
    FUZZ_CHECK(!doc.HasParseError());
    FUZZ_CHECK(doc.IsObject());
  }
  return 0;
}
