#include <doctest/doctest.h>

#include "daemon/store/trace_store.hpp"

using namespace tracecol;
using protocol::Span;
using protocol::Trace;
using store::metadata_has;
using store::span_contains_text;
using store::span_matches;
using store::trace_matches;
using store::TraceFilter;

namespace {

Span make_span(std::uint64_t id, std::string name, std::string metadata = "{}") {
  Span s;
  s.trace_id = protocol::TraceId{0, 7};
  s.span_id = id;
  s.name = std::move(name);
  s.run_id = "run-1";
  s.started_at_ns = 1'000'000'000;
  s.ended_at_ns = 1'005'000'000;  // 5 ms
  s.fields = protocol::field_name | protocol::field_started_at | protocol::field_ended_at;
  s.metadata = std::move(metadata);
  return s;
}

Trace make_trace(std::vector<Span> spans) {
  Trace t;
  t.trace_id = protocol::TraceId{0, 7};
  t.run_id = "run-1";
  t.spans = std::move(spans);
  return t;
}

}  // namespace

TEST_SUITE("store filter") {
  TEST_CASE("meta matches a top-level string value after unescaping") {
    CHECK(metadata_has(R"({"user":"alice","team":"a\"b"})", "user", "alice"));
    CHECK(metadata_has(R"({"user":"alice","team":"a\"b"})", "team", "a\"b"));
    CHECK(metadata_has(R"({ "us\u0065r" : "\u0061lice" })", "user", "alice"));
    CHECK_FALSE(metadata_has(R"({"user":"alice"})", "user", "alic"));
    CHECK_FALSE(metadata_has(R"({"user":"alice"})", "User", "alice"));
  }

  TEST_CASE("meta matches the JSON text of a non-string value") {
    const std::string m = R"({"tokens": 42, "ok":true, "none":null, "tags":["a","b"], "o":{"k":"v, }"}, "f":-1.5e3})";
    CHECK(metadata_has(m, "tokens", "42"));
    CHECK(metadata_has(m, "ok", "true"));
    CHECK(metadata_has(m, "none", "null"));
    CHECK(metadata_has(m, "tags", R"(["a","b"])"));
    CHECK(metadata_has(m, "o", R"({"k":"v, }"})"));
    CHECK(metadata_has(m, "f", "-1.5e3"));
    CHECK_FALSE(metadata_has(m, "tokens", "\"42\""));
    CHECK_FALSE(metadata_has(m, "tokens", "4"));
  }

  TEST_CASE("meta.peer.pid and meta.peer.uid match a socket span's peer, as its metadata renders them") {
    Span s = make_span(1, "agent.run", R"({"model":"m"})");
    s.has_peer = true;
    s.peer_pid = 4242;
    s.peer_uid = 1000;
    TraceFilter f;
    f.meta = {{"peer.pid", "4242"}};
    CHECK(span_matches(s, f));
    CHECK(trace_matches(make_trace({s}), f));
    f.meta = {{"peer.uid", "1000"}, {"model", "m"}};
    CHECK(span_matches(s, f));
    f.meta = {{"peer.pid", "424"}};
    CHECK_FALSE(span_matches(s, f));
    CHECK_FALSE(trace_matches(make_trace({s}), f));
    // A span that came over HTTP has no peer: its own metadata members answer.
    Span posted = make_span(2, "tool.call", R"({"peer.pid":"7"})");
    f.meta = {{"peer.pid", "7"}};
    CHECK(span_matches(posted, f));
    f.meta = {{"peer.pid", "0"}};
    CHECK_FALSE(span_matches(posted, f));
  }

  TEST_CASE("meta looks at top-level keys only and never reads past malformed text") {
    CHECK_FALSE(metadata_has(R"({"o":{"user":"alice"}})", "user", "alice"));
    CHECK_FALSE(metadata_has(R"({"a":["user","alice"]})", "user", "alice"));
    CHECK_FALSE(metadata_has("{}", "user", "alice"));
    CHECK_FALSE(metadata_has("", "user", "alice"));
    CHECK_FALSE(metadata_has(R"({"user":"alice)", "user", "alice"));
    CHECK_FALSE(metadata_has(R"({"user")", "user", ""));
    CHECK_FALSE(metadata_has(R"({"user":)", "user", ""));
    CHECK_FALSE(metadata_has(R"({"x":[1,2)", "x", "[1,2"));
    CHECK_FALSE(metadata_has("[1]", "user", "alice"));
    CHECK_FALSE(metadata_has("{\"a\\", "a", ""));
  }

  TEST_CASE("q is a case-sensitive substring of name, error and the raw inputs, outputs and metadata") {
    Span s = make_span(1, "llm call", R"({"model":"gpt-x"})");
    s.inputs = R"({"prompt":"Hello world"})";
    s.outputs = R"({"text":"bonjour"})";
    CHECK(span_contains_text(s, ""));
    CHECK(span_contains_text(s, "llm"));
    CHECK(span_contains_text(s, "Hello"));
    CHECK_FALSE(span_contains_text(s, "hello"));
    CHECK(span_contains_text(s, "bonjour"));
    CHECK(span_contains_text(s, "gpt-x"));
    CHECK(span_contains_text(s, "\"prompt\""));  // raw JSON text: keys too
    CHECK_FALSE(span_contains_text(s, "timeout"));
    s.error = "timeout after 30s";
    CHECK_FALSE(span_contains_text(s, "timeout"));  // error only counts when the span has one
    s.fields |= protocol::field_error;
    CHECK(span_contains_text(s, "timeout"));
  }

  TEST_CASE("a trace matches q and meta when some span does, each pair on its own") {
    Trace t = make_trace({make_span(1, "root", R"({"user":"alice"})"), make_span(2, "tool", R"({"env":"prod"})")});
    TraceFilter f;
    f.q = "tool";
    CHECK(trace_matches(t, f));
    f.meta = {{"user", "alice"}, {"env", "prod"}};
    CHECK(trace_matches(t, f));
    f.meta.emplace_back("env", "dev");
    CHECK_FALSE(trace_matches(t, f));
    f.meta.clear();
    f.q = "nowhere";
    CHECK_FALSE(trace_matches(t, f));
  }

  TEST_CASE("a span matches on its own fields") {
    Span s = make_span(1, "search", R"({"user":"bob"})");
    s.kind = protocol::SpanKind::tool;
    CHECK(span_matches(s, TraceFilter{}));
    auto all = [] {
      TraceFilter f;
      f.run_id = "run-1";
      f.name = "search";
      f.kind = protocol::SpanKind::tool;
      f.has_error = false;
      f.min_duration_ms = 5;
      f.meta = {{"user", "bob"}};
      f.q = "sea";
      return f;
    };
    CHECK(span_matches(s, all()));
    auto one_off = [&](auto change) {
      TraceFilter f = all();
      change(f);
      return span_matches(s, f);
    };
    CHECK_FALSE(one_off([](TraceFilter& f) { f.run_id = "run-2"; }));
    CHECK_FALSE(one_off([](TraceFilter& f) { f.name = "other"; }));
    CHECK_FALSE(one_off([](TraceFilter& f) { f.kind = protocol::SpanKind::llm; }));
    CHECK_FALSE(one_off([](TraceFilter& f) { f.has_error = true; }));
    CHECK_FALSE(one_off([](TraceFilter& f) { f.min_duration_ms = 5.5; }));
    CHECK_FALSE(one_off([](TraceFilter& f) { f.meta = {{"user", "alice"}}; }));
    CHECK_FALSE(one_off([](TraceFilter& f) { f.q = "xyz"; }));
    CHECK_FALSE(one_off([](TraceFilter& f) { f.since_ns = 2'000'000'000; }));
    // The epoch is a bound like any other, not "unset": until=0 excludes a span started
    // after it, since=0 admits it; a span at exactly the bound matches.
    CHECK_FALSE(one_off([](TraceFilter& f) { f.until_ns = 0; }));
    CHECK(one_off([](TraceFilter& f) { f.since_ns = 0; }));
    CHECK(one_off([](TraceFilter& f) { f.since_ns = f.until_ns = 1'000'000'000; }));
    s.ended_at_ns = 0;  // an open span has no duration to compare
    CHECK_FALSE(span_matches(s, all()));
  }

  TEST_CASE("find() applies q and meta") {
    store::TraceStore st;
    {
      auto txn = st.begin();
      for (std::uint64_t i = 1; i <= 3; ++i) {
        const protocol::TraceId id{0, i};
        protocol::Trace& t = txn.insert(id);
        Span s = make_span(i, std::string("s").append(std::to_string(i)), i == 2 ? R"({"tier":"gold"})" : "{}");
        s.trace_id = id;
        t.spans.push_back(s);
        txn.mark_exported(id);
      }
    }
    TraceFilter f;
    f.meta = {{"tier", "gold"}};
    auto found = st.find(f);
    REQUIRE(found.size() == 1);
    CHECK(found[0]->trace_id.lo == 2);
    f.meta.clear();
    f.q = "s3";
    found = st.find(f);
    REQUIRE(found.size() == 1);
    CHECK(found[0]->trace_id.lo == 3);
  }
}
