#include <doctest/doctest.h>

#include "daemon/http/router.hpp"

using tracecol::http::route;
using tracecol::http::Route;

TEST_SUITE("http router") {
  TEST_CASE("maps each endpoint and its parameter") {
    CHECK(route("GET", "/healthz").route == Route::healthz);
    CHECK(route("GET", "/readyz").route == Route::readyz);
    CHECK(route("GET", "/metrics").route == Route::metrics);
    CHECK(route("GET", "/api/traces").route == Route::traces);
    CHECK(route("POST", "/api/spans").route == Route::spans);
    auto otlp = route("POST", "/v1/traces");
    CHECK(otlp.route == Route::v1_traces);
    CHECK(otlp.method_allowed);
    CHECK(tracecol::http::route_label(Route::v1_traces) == "v1_traces");
    auto otlp_get = route("GET", "/v1/traces");
    CHECK(otlp_get.route == Route::v1_traces);
    CHECK_FALSE(otlp_get.method_allowed);
    CHECK(otlp_get.allow == "POST");
    auto t = route("GET", "/api/traces/abc123");
    CHECK(t.route == Route::trace);
    CHECK(t.param == "abc123");
    auto tree = route("GET", "/api/traces/abc123/tree");
    CHECK(tree.route == Route::trace_tree);
    CHECK(tree.param == "abc123");
    auto run = route("GET", "/api/runs/run-42");
    CHECK(run.route == Route::run);
    CHECK(run.param == "run-42");
  }

  TEST_CASE("unknown paths are not found") {
    for (const char* p : {"/api", "/api/traces/", "/api/traces/a/b", "/api/traces//tree", "/api/runs/",
                          "/api/runs/a/b", "/healthz/x", "/api/traces/a/tree/x"}) {
      CAPTURE(p);
      CHECK(route("GET", p).route == Route::not_found);
    }
  }

  TEST_CASE("splits the raw path before decoding: an escaped slash stays inside its segment") {
    auto run = route("GET", "/api/runs/a%2Fb");
    CHECK(run.route == Route::run);
    CHECK(run.param == "a/b");
    CHECK(route("GET", "/api/runs/..%2Fx").param == "../x");
    CHECK(route("GET", "/api/runs/a..b").param == "a..b");
    auto tree = route("GET", "/api/traces/ab%2fcd/tree");
    CHECK(tree.route == Route::trace_tree);
    CHECK(tree.param == "ab/cd");
    CHECK(route("GET", "/heal%74hz").route == Route::healthz);
    CHECK(route("GET", "/api%2Ftraces").route == Route::not_found);
    CHECK(route("GET", "/api/runs/%zz").route == Route::not_found);
    auto ui = route("GET", "/ui/app%2Ejs");
    CHECK(ui.route == Route::ui);
    CHECK(ui.param == "/ui/app.js");
  }

  TEST_CASE("a known path with the wrong method is refused with its Allow value") {
    auto m = route("POST", "/api/traces");
    CHECK(m.route == Route::traces);
    CHECK_FALSE(m.method_allowed);
    CHECK(m.allow == "GET, HEAD");
    auto s = route("GET", "/api/spans");
    CHECK_FALSE(s.method_allowed);
    CHECK(s.allow == "POST");
    CHECK_FALSE(route("DELETE", "/api/traces/ab").method_allowed);
    CHECK(route("GET", "/api/traces/ab").method_allowed);
  }

  TEST_CASE("HEAD is allowed wherever GET is, but on the stream") {
    for (const char* p : {"/healthz", "/readyz", "/metrics", "/api/traces", "/api/traces/ab", "/api/traces/ab/tree",
                          "/api/runs/r", "/", "/ui/app.js"}) {
      CAPTURE(p);
      CHECK(route("HEAD", p).method_allowed);
      CHECK(route("GET", p).method_allowed);
      CHECK(route("HEAD", p).allow == "GET, HEAD");
    }
    auto stream = route("HEAD", "/api/stream");
    CHECK_FALSE(stream.method_allowed);
    CHECK(stream.allow == "GET");
    CHECK_FALSE(route("HEAD", "/api/spans").method_allowed);
    CHECK_FALSE(route("HEAD", "/v1/traces").method_allowed);
  }

  TEST_CASE("route labels are stable metric label values") {
    CHECK(tracecol::http::route_label(Route::trace_tree) == "trace_tree");
    CHECK(tracecol::http::route_label(Route::not_found) == "not_found");
  }
}
