// Tracer, Trace and Span through the in-memory exporter: RAII, exceptions, traced(),
// parents, config knobs and sampling.

#include <doctest/doctest.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "client/cpp/memory_exporter.hpp"
#include "client/cpp/tracer.hpp"

using namespace tracecol::client;

namespace {

struct Fixture {
  explicit Fixture(TracingConfig c = {}) : exporter(std::make_shared<InMemoryExporter>()), tracer(enable(c), exporter) {}
  static TracingConfig enable(TracingConfig c) {
    c.enabled = true;
    return c;
  }
  std::shared_ptr<InMemoryExporter> exporter;
  Tracer tracer;
};

struct CustomError {};

}  // namespace

TEST_SUITE("client tracer") {
TEST_CASE("a span finishes at scope exit with its name, kind, inputs, metadata and times") {
  Fixture f;
  {
    auto span = f.tracer.start_span("tool.fetch", SpanKind::TOOL, JsonObject().add("url", "https://x"),
                                    JsonObject().add("attempt", 1));
    CHECK(span.recording());
    CHECK(f.exporter->spans().empty());
  }
  const auto spans = f.exporter->spans();
  REQUIRE(spans.size() == 1);
  CHECK(spans[0].name == "tool.fetch");
  CHECK(spans[0].kind == SpanKind::TOOL);
  CHECK(spans[0].inputs == R"({"url":"https://x"})");
  CHECK(spans[0].metadata == R"({"attempt":1})");
  CHECK(spans[0].outputs.empty());
  CHECK(!spans[0].error);
  CHECK(spans[0].parent_id == 0);
  CHECK(spans[0].started_at_ns > 1'700'000'000'000'000'000);
  CHECK(spans[0].ended_at_ns >= spans[0].started_at_ns);
  REQUIRE(f.exporter->traces().size() == 1);  // an implicit trace ends with its last span
}

TEST_CASE("finish(outputs) records the outputs once, later finishes and the scope exit do nothing") {
  Fixture f;
  {
    auto span = f.tracer.start_span("llm.complete", SpanKind::LLM);
    span.finish(JsonObject().add("text", "hello"));
    CHECK(!span.recording());
    span.finish(JsonObject().add("text", "again"));
  }
  const auto spans = f.exporter->spans();
  REQUIRE(spans.size() == 1);
  CHECK(spans[0].outputs == R"({"text":"hello"})");
}

TEST_CASE("nested spans on one thread form a tree under a trace with its run_id") {
  Fixture f;
  {
    auto trace = f.tracer.start_trace("run-42");
    auto root = trace.start_span("agent.run", SpanKind::AGENT);
    {
      auto llm = f.tracer.start_span("llm.complete", SpanKind::LLM);
      auto tool = llm.child("tool.fetch", SpanKind::TOOL);
    }
    auto sibling = trace.start_span("tool.search", SpanKind::TOOL);
  }
  const auto traces = f.exporter->traces();
  REQUIRE(traces.size() == 1);
  CHECK(traces[0].run_id == "run-42");
  const auto& s = traces[0].spans;
  REQUIRE(s.size() == 4);
  // Finish order: tool.fetch, llm.complete, tool.search, agent.run.
  CHECK(s[0].name == "tool.fetch");
  CHECK(s[1].name == "llm.complete");
  CHECK(s[2].name == "tool.search");
  CHECK(s[3].name == "agent.run");
  CHECK(s[3].parent_id == 0);
  CHECK(s[1].parent_id == s[3].span_id);
  CHECK(s[0].parent_id == s[1].span_id);
  CHECK(s[2].parent_id == s[3].span_id);  // llm.complete was no longer current
  for (const auto& span : s) {
    CHECK(span.trace_id == traces[0].trace_id);
    CHECK(span.run_id == "run-42");
  }
}

TEST_CASE("an escaping exception marks the span failed and propagates unchanged") {
  Fixture f;
  CHECK_THROWS_AS(
      [&] {
        auto span = f.tracer.start_span("tool.fail", SpanKind::TOOL);
        throw CustomError{};
      }(),
      CustomError);
  const auto spans = f.exporter->spans();
  REQUIRE(spans.size() == 1);
  REQUIRE(spans[0].error.has_value());
  CHECK(*spans[0].error == "exception");
}

TEST_CASE("record_exception keeps the message for a guard whose exception escapes") {
  Fixture f;
  try {
    auto span = f.tracer.start_span("tool.fail", SpanKind::TOOL);
    try {
      throw std::runtime_error("disk full");
    } catch (const std::exception& e) {
      span.record_exception(e);
      throw;
    }
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()) == "disk full");
  }
  REQUIRE(f.exporter->spans().size() == 1);
  CHECK(*f.exporter->spans()[0].error == "disk full");
}

TEST_CASE("a span inside a catch handler that is not unwinding is not marked failed") {
  Fixture f;
  try {
    throw std::runtime_error("handled");
  } catch (...) {
    auto span = f.tracer.start_span("recover");
  }
  REQUIRE(f.exporter->spans().size() == 1);
  CHECK(!f.exporter->spans()[0].error);
}

TEST_CASE("traced records arguments and result and nests under the current span") {
  Fixture f;
  auto add = f.tracer.traced("math.add", SpanKind::TOOL, [](int a, double b, const std::string& tag) {
    return a + b + static_cast<double>(tag.size());
  });
  auto greet = f.tracer.traced("greet", SpanKind::CUSTOM, [](std::string_view who) {
    return JsonObject().add("greeting", std::string("hi ") + std::string(who));
  });
  auto noop = f.tracer.traced("noop", SpanKind::CUSTOM, [] {});
  {
    auto root = f.tracer.start_span("agent.run", SpanKind::AGENT);
    CHECK(add(1, 2.5, std::string("ab")) == doctest::Approx(5.5));
    greet("bob");
    noop();
  }
  const auto spans = f.exporter->spans();
  REQUIRE(spans.size() == 4);
  CHECK(spans[0].name == "math.add");
  CHECK(spans[0].inputs == R"({"arg0":1,"arg1":2.5,"arg2":"ab"})");
  CHECK(spans[0].outputs == R"({"result":5.5})");
  CHECK(spans[1].inputs == R"({"arg0":"bob"})");
  CHECK(spans[1].outputs == R"({"greeting":"hi bob"})");
  CHECK(spans[2].outputs.empty());
  CHECK(spans[0].parent_id == spans[3].span_id);
  CHECK(spans[2].parent_id == spans[3].span_id);
}

TEST_CASE("traced records the exception message and rethrows the same exception object") {
  Fixture f;
  struct Boom : std::runtime_error {
    using std::runtime_error::runtime_error;
    int code = 7;
  };
  auto fail = f.tracer.traced("tool.fail", SpanKind::TOOL, [](int) -> int { throw Boom("boom: 42"); });
  try {
    fail(3);
    FAIL("no exception");
  } catch (const Boom& b) {
    CHECK(b.code == 7);
    CHECK(std::string(b.what()) == "boom: 42");
  }
  auto odd = f.tracer.traced("odd", SpanKind::TOOL, [] { throw 5; });
  CHECK_THROWS_AS(odd(), int);
  const auto spans = f.exporter->spans();
  REQUIRE(spans.size() == 2);
  CHECK(*spans[0].error == "boom: 42");
  CHECK(spans[0].inputs == R"({"arg0":3})");
  CHECK(*spans[1].error == "unknown exception");
}

TEST_CASE("traced passes references through and returns references") {
  Fixture f;
  int counter = 0;
  auto bump = f.tracer.traced("bump", SpanKind::CUSTOM, [](int& c) -> int& { return ++c; });
  int& r = bump(counter);
  CHECK(&r == &counter);
  CHECK(counter == 1);
}

TEST_CASE("include_inputs and include_outputs off leave them out") {
  TracingConfig c;
  c.include_inputs = false;
  c.include_outputs = false;
  Fixture f(c);
  {
    auto span = f.tracer.start_span("x", SpanKind::TOOL, JsonObject().add("secret", "s"));
    span.finish(JsonObject().add("out", 1));
  }
  const auto spans = f.exporter->spans();
  REQUIRE(spans.size() == 1);
  CHECK(spans[0].inputs == "{}");
  CHECK(spans[0].outputs.empty());
}

TEST_CASE("a disabled tracer records nothing") {
  auto exporter = std::make_shared<InMemoryExporter>();
  Tracer tracer(TracingConfig{}, exporter);  // the seed's default: enabled = false
  {
    auto trace = tracer.start_trace("r");
    auto span = tracer.start_span("x");
    auto child = span.child("y");
    CHECK(!span.recording());
    auto f = tracer.traced("f", SpanKind::TOOL, [](int a) { return a * 2; });
    CHECK(f(4) == 8);
  }
  CHECK(exporter->spans().empty());
  CHECK(exporter->traces().empty());
}

TEST_CASE("sample_rate 0 drops whole traces unless one of their spans fails") {
  TracingConfig c;
  c.sample_rate = 0.0;
  Fixture f(c);
  {
    auto trace = f.tracer.start_trace("quiet");
    CHECK(!trace.sampled());
    auto a = trace.start_span("a");
  }
  CHECK(f.exporter->spans().empty());
  CHECK(f.exporter->traces().empty());
  {
    auto trace = f.tracer.start_trace("loud");
    auto root = trace.start_span("root");
    { auto ok = root.child("ok"); }
    {
      auto bad = root.child("bad");
      bad.set_error("failed");
    }
    { auto after = root.child("after"); }
  }
  const auto traces = f.exporter->traces();
  REQUIRE(traces.size() == 1);
  CHECK(traces[0].run_id == "loud");
  CHECK(traces[0].spans.size() == 4);
}

TEST_CASE("a trace ends only when its handle and every span are done") {
  Fixture f;
  auto trace = f.tracer.start_trace("r");
  auto span = trace.start_span("long");
  trace.end();
  CHECK(f.exporter->traces().empty());
  span.finish();
  CHECK(f.exporter->traces().empty());  // the guard still holds the trace
  { Span gone = std::move(span); }
  CHECK(f.exporter->traces().size() == 1);
}

TEST_CASE("a moved span finishes once, from its new owner") {
  Fixture f;
  {
    Span outer;
    {
      auto inner = f.tracer.start_span("moved");
      outer = std::move(inner);
    }
    CHECK(f.exporter->spans().empty());
    CHECK(outer.recording());
  }
  CHECK(f.exporter->spans().size() == 1);
}
}
