// JSON text: escaping, the object builder, and span lines fed through the daemon's decoder.

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "client/cpp/json.hpp"
#include "client/cpp/span_record.hpp"
#include "protocol/decoder.hpp"

using namespace tracecol::client;

namespace {

std::string esc(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

/** Decodes one line (without its '\n') as the daemon would. */
bool daemon_accepts(const std::string& line, tracecol::protocol::Event& ev) {
  tracecol::protocol::Decoder d;
  std::string_view body(line);
  if (!body.empty() && body.back() == '\n') body.remove_suffix(1);
  return d.decode(body, ev).ok;
}

const std::string fffd = "\xEF\xBF\xBD";

}  // namespace

TEST_SUITE("client json") {
TEST_CASE("quotes, backslashes and control characters are escaped") {
  CHECK(esc("plain") == "\"plain\"");
  CHECK(esc("a\"b\\c") == R"("a\"b\\c")");
  CHECK(esc("\n\r\t\b\f") == R"("\n\r\t\b\f")");
  CHECK(esc(std::string_view("\x00\x01\x1f", 3)) == R"("\u0000\u0001\u001f")");
  CHECK(esc("\x7f") == "\"\x7f\"");
}

TEST_CASE("valid UTF-8 passes through and invalid bytes become U+FFFD") {
  CHECK(esc("h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80") == "\"h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80\"");
  CHECK(esc("\xFF") == "\"" + fffd + "\"");
  CHECK(esc("\xC0\xAF") == "\"" + fffd + fffd + "\"");            // overlong '/'
  CHECK(esc("\xED\xA0\x80") == "\"" + fffd + fffd + fffd + "\"");  // UTF-8-encoded surrogate
  CHECK(esc("\xF4\x90\x80\x80") == "\"" + fffd + fffd + fffd + fffd + "\"");  // past U+10FFFF
  CHECK(esc("ab\xE2\x82") == "\"ab" + fffd + fffd + "\"");         // truncated at the end
  CHECK(esc("\x80x") == "\"" + fffd + "x\"");                      // stray continuation byte
}

TEST_CASE("the builder writes strings, numbers, bools, null and nested objects") {
  JsonObject o;
  o.add("s", "x\"y").add("i", -42).add("u", 7u).add("d", 1.5).add("b", true).add_null("n");
  o.add("o", JsonObject().add("k", 1));
  CHECK(o.text() == R"({"s":"x\"y","i":-42,"u":7,"d":1.5,"b":true,"n":null,"o":{"k":1}})");
  CHECK(JsonObject().text() == "{}");
  CHECK(JsonObject::raw(R"({"a":[1,2]})").text() == R"({"a":[1,2]})");
  CHECK(JsonObject::raw(R"({"a":1})").add("b", 2).text() == R"({"a":1,"b":2})");
  CHECK(JsonObject::raw("{ }").add("b", 2).text() == R"({"b":2})");
}

TEST_CASE("numbers the daemon would refuse are never written") {
  JsonObject o;
  o.add("nan", std::nan("")).add("inf", std::numeric_limits<double>::infinity());
  o.add("sub", std::numeric_limits<double>::denorm_min()).add("max", std::numeric_limits<double>::max());
  const std::string text = o.text();
  CHECK(text.find(R"("nan":null)") != std::string::npos);
  CHECK(text.find(R"("inf":null)") != std::string::npos);
  CHECK(text.find(R"("sub":0)") != std::string::npos);
  SpanRecord s;
  s.trace_id = {1, 2};
  s.span_id = 3;
  s.started_at_ns = 1'732'500'000'000'000'000;
  s.ended_at_ns = s.started_at_ns + 1000;
  s.inputs = text;
  std::string line;
  append_span_line(line, s);
  tracecol::protocol::Event ev;
  CHECK(daemon_accepts(line, ev));
}

TEST_CASE("the daemon's decoder accepts a span line full of hostile strings and reads them back") {
  std::string nasty;
  for (int c = 0; c < 256; ++c) nasty += static_cast<char>(c);
  nasty += "\xED\xA0\x80\xF4\x90\x80\x80\xE2\x82";
  SpanRecord s;
  s.trace_id = {0x0123456789abcdefULL, 0xfedcba9876543210ULL};
  s.span_id = 0xabcdef;
  s.parent_id = 0x1234;
  s.run_id = nasty;
  s.name = nasty;
  s.kind = SpanKind::TOOL;
  s.started_at_ns = 1'732'500'000'123'456'789;
  s.ended_at_ns = 1'732'500'000'223'456'789;
  s.inputs = JsonObject().add(nasty, nasty).add("n", 3).text();
  s.outputs = JsonObject().add("text", nasty).text();
  s.error = nasty;
  s.metadata = JsonObject().add("model", "m").text();
  std::string line;
  append_span_line(line, s);
  CHECK(line.back() == '\n');
  CHECK(std::count(line.begin(), line.end(), '\n') == 1);
  tracecol::protocol::Event ev;
  REQUIRE(daemon_accepts(line, ev));
  CHECK(ev.type == tracecol::protocol::EventType::span);
  CHECK(ev.span.trace_id.hi == s.trace_id.hi);
  CHECK(ev.span.trace_id.lo == s.trace_id.lo);
  CHECK(ev.span.span_id == s.span_id);
  CHECK(ev.span.parent_id == s.parent_id);
  CHECK(ev.span.started_at_ns == s.started_at_ns);
  CHECK(ev.span.ended_at_ns == s.ended_at_ns);
  CHECK(ev.span.has_error());
  // Every valid byte survives; each invalid one is one U+FFFD.
  std::string expected;
  for (int c = 0; c < 128; ++c) expected += static_cast<char>(c);
  for (int i = 0; i < 128 + 9; ++i) expected += fffd;
  CHECK(ev.span.name == expected);
  CHECK(ev.span.run_id == expected);
  CHECK(ev.span.error == expected);
  CHECK(ev.span.name.substr(32, 10) == " !\"#$%&'()");
}

TEST_CASE("trace_end lines are accepted by the daemon's decoder") {
  std::string line;
  append_trace_end_line(line, {5, 6}, "run \"42\"");
  tracecol::protocol::Event ev;
  REQUIRE(daemon_accepts(line, ev));
  CHECK(ev.type == tracecol::protocol::EventType::trace_end);
  CHECK(ev.run_id == "run \"42\"");
}
}
