#include <doctest/doctest.h>

#include <rapidjson/document.h>

#include "daemon/http/api.hpp"
#include "protocol/encoder.hpp"
#include "protocol/trace_tree.hpp"

using namespace tracecol;
using protocol::Span;
using protocol::Trace;
using protocol::TraceId;

namespace {

TraceId tid(std::uint64_t n) { return TraceId{0, n}; }
constexpr std::int64_t t0 = 1'732'500'000'000'000'000LL;

/** Trace n: a root "root<n>" of `kind`, started n seconds after t0, lasting n ms, with an error when asked. */
void put(store::TraceStore& s, std::uint64_t n, std::string run, bool error = false,
         protocol::SpanKind kind = protocol::SpanKind::agent) {
  auto txn = s.begin();
  Trace& t = txn.insert(tid(n));
  Span sp;
  sp.trace_id = tid(n);
  sp.span_id = 1;
  sp.name = "root" + std::to_string(n);
  sp.kind = kind;
  sp.started_at_ns = t0 + static_cast<std::int64_t>(n) * 1'000'000'000LL;
  sp.ended_at_ns = sp.started_at_ns + static_cast<std::int64_t>(n) * 1'000'000LL;
  if (error) {
    sp.fields |= protocol::field_error;
    sp.error = "boom";
  }
  sp.run_id = run;
  txn.add_bytes(tid(n), static_cast<std::ptrdiff_t>(sp.footprint()), 1);
  t.spans.push_back(sp);
  t.complete = true;
  txn.set_run_id(tid(n), run);
  txn.mark_exported(tid(n));
}

rapidjson::Document parse(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str());
  REQUIRE_FALSE(d.HasParseError());
  return d;
}

std::vector<std::string> ids_of(const rapidjson::Document& d) {
  std::vector<std::string> out;
  for (const auto& t : d["traces"].GetArray()) out.emplace_back(t["trace_id"].GetString());
  return out;
}

http::ListQuery query(const std::string& q) {
  auto target = http::parse_target("/api/traces?" + q);
  auto parsed = http::parse_list_query(*target.value);
  REQUIRE(parsed.value);
  return *parsed.value;
}

}  // namespace

TEST_SUITE("http api") {
  TEST_CASE("lists newest first with summaries and no cursor when everything fits") {
    store::TraceStore s;
    for (std::uint64_t n = 1; n <= 3; ++n) put(s, n, "run-a", n == 2);
    auto r = http::list_traces(s, query(""));
    CHECK(r.status == 200);
    auto d = parse(r.body);
    CHECK(ids_of(d) == std::vector<std::string>{tid(3).hex(), tid(2).hex(), tid(1).hex()});
    CHECK(d["next_cursor"].IsNull());
    const auto& t = d["traces"][1];
    CHECK(std::string(t["run_id"].GetString()) == "run-a");
    CHECK(std::string(t["name"].GetString()) == "root2");
    CHECK(t["span_count"].GetInt() == 1);
    CHECK(t["error_count"].GetInt() == 1);
    CHECK(t["started_at"].GetDouble() == doctest::Approx(1732500002.0));
    CHECK(t["duration_ms"].GetDouble() == doctest::Approx(2.0));
    CHECK(t["complete"].GetBool());
  }

  TEST_CASE("pages with a cursor until every trace was seen once") {
    store::TraceStore s;
    for (std::uint64_t n = 1; n <= 7; ++n) put(s, n, "r");
    std::vector<std::string> seen;
    std::string cursor;
    for (int page = 0; page < 10; ++page) {
      auto d = parse(http::list_traces(s, query("limit=3" + (cursor.empty() ? "" : "&cursor=" + cursor))).body);
      for (auto& id : ids_of(d)) seen.push_back(id);
      if (d["next_cursor"].IsNull()) break;
      cursor = d["next_cursor"].GetString();
      // A trace arriving between pages does not shift the next page.
      put(s, 100 + static_cast<std::uint64_t>(page), "r");
    }
    REQUIRE(seen.size() == 7);
    for (std::uint64_t n = 1; n <= 7; ++n) CHECK(seen[7 - n] == tid(n).hex());
  }

  TEST_CASE("applies the filters") {
    store::TraceStore s;
    put(s, 1, "a", false, protocol::SpanKind::tool);
    put(s, 2, "b", true);
    put(s, 3, "a", false);
    CHECK(ids_of(parse(http::list_traces(s, query("run_id=a")).body)) ==
          std::vector<std::string>{tid(3).hex(), tid(1).hex()});
    CHECK(ids_of(parse(http::list_traces(s, query("error=true")).body)) == std::vector<std::string>{tid(2).hex()});
    CHECK(ids_of(parse(http::list_traces(s, query("kind=TOOL")).body)) == std::vector<std::string>{tid(1).hex()});
    CHECK(ids_of(parse(http::list_traces(s, query("name=root3")).body)) == std::vector<std::string>{tid(3).hex()});
    CHECK(ids_of(parse(http::list_traces(s, query("min_duration_ms=2")).body)).size() == 2);
    CHECK(ids_of(parse(http::list_traces(s, query("since=1732500002&until=1732500002.5")).body)) ==
          std::vector<std::string>{tid(2).hex()});
    auto d = parse(http::list_traces(s, query("limit=1")).body);
    CHECK(ids_of(d) == std::vector<std::string>{tid(3).hex()});
    CHECK(std::string(d["next_cursor"].GetString()) == tid(3).hex());
  }

  TEST_CASE("gets a trace as the encoder writes it, 404 when absent, 400 when malformed") {
    store::TraceStore s;
    put(s, 5, "r");
    auto ok = http::get_trace(s, tid(5).hex());
    CHECK(ok.status == 200);
    std::string expected;
    protocol::append_trace_json(expected, *s.get(tid(5)));
    REQUIRE(ok.shared_body != nullptr);  // the store's cached record, sent uncopied
    CHECK(ok.shared_body->view() == expected);
    CHECK(http::get_trace(s, tid(5).hex()).shared_body == ok.shared_body);
    auto missing = http::get_trace(s, tid(6).hex());
    CHECK(missing.status == 404);
    CHECK(missing.body == "{\"error\":\"trace not found\"}");
    CHECK(http::get_trace(s, "not-hex").status == 400);
    CHECK(http::get_trace(s, std::string(33, 'a')).status == 400);
  }

  TEST_CASE("the tree is the console header and as_tree text") {
    store::TraceStore s;
    put(s, 5, "r", true);
    auto r = http::get_trace_tree(s, "5");
    CHECK(r.status == 200);
    CHECK(r.content_type.starts_with("text/plain"));
    const auto t = s.get(tid(5));
    CHECK(r.body == protocol::tree_header(*t) + "\n" + protocol::as_tree(*t));
    CHECK(http::get_trace_tree(s, "6").status == 404);
  }

  TEST_CASE("a run lists its full traces oldest first") {
    store::TraceStore s;
    put(s, 1, "run-x");
    put(s, 2, "other");
    put(s, 3, "run-x");
    auto d = parse(http::get_run(s, "run-x").body);
    CHECK(std::string(d["run_id"].GetString()) == "run-x");
    REQUIRE(d["traces"].Size() == 2);
    CHECK(std::string(d["traces"][0]["trace_id"].GetString()) == tid(1).hex());
    CHECK(d["traces"][1]["spans"].Size() == 1);
    CHECK(http::get_run(s, "nope").status == 404);
  }

  TEST_CASE("decodes a body line by line and reports refused lines by number") {
    protocol::Decoder decoder;
    const std::string body =
        "{\"type\":\"span\",\"trace_id\":\"a1\",\"span_id\":\"1\",\"name\":\"x\",\"started_at\":1732500000,"
        "\"ended_at\":1732500001}\r\n"
        "\n"
        "not json\n"
        "{\"type\":\"flush\",\"id\":1}\n"
        "{\"type\":\"span\",\"trace_id\":\"zz\",\"span_id\":\"1\"}\n"
        "{\"type\":\"trace_end\",\"trace_id\":\"a1\"}";
    auto decoded = http::decode_body(body, decoder, 1 << 20);
    CHECK(decoded.lines == 5);
    CHECK(decoded.blank_lines == 1);
    CHECK(decoded.control_lines == 1);
    CHECK(decoded.batch.events.size() == 2);
    // Numbers count the blank line too: "not json" is the body's third line.
    CHECK(decoded.event_lines == std::vector<std::size_t>{1, 6});
    REQUIRE(decoded.errors.size() == 2);
    CHECK(decoded.errors[0].line == 3);
    CHECK(decoded.errors[0].reason == "invalid_json");
    CHECK(decoded.errors[1].line == 5);
    CHECK(decoded.errors[1].reason == "bad_trace_id");
    // The pipeline refused the second event: it is reported at its line.
    std::vector<ingest::AppliedRejection> applied{{1, protocol::RejectReason::too_many_spans}};
    auto d = parse(http::ingest_response(decoded, applied).body);
    CHECK(d["accepted"].GetInt() == 1);
    CHECK(d["rejected"].GetInt() == 3);
    REQUIRE(d["errors"].Size() == 3);
    CHECK(d["errors"][2]["line"].GetInt() == 6);
    CHECK(std::string(d["errors"][2]["reason"].GetString()) == "too_many_spans");
  }

  TEST_CASE("blank lines are counted, a final newline is not a line, and numbers stay physical") {
    protocol::Decoder decoder;
    const std::string end = "{\"type\":\"trace_end\",\"trace_id\":\"a1\"}";
    auto decoded = http::decode_body("\n \t\r\n" + end + "\n\n" + end + "\n", decoder, 1 << 20);
    CHECK(decoded.lines == 2);
    CHECK(decoded.blank_lines == 3);
    CHECK(decoded.event_lines == std::vector<std::size_t>{3, 5});
    CHECK(http::decode_body(end + "\n", decoder, 1 << 20).blank_lines == 0);
    CHECK(http::decode_body("", decoder, 1 << 20).blank_lines == 0);
    CHECK(http::decode_body("\n", decoder, 1 << 20).blank_lines == 1);
  }

  TEST_CASE("refuses over-long lines and reports at most 20 errors") {
    protocol::Decoder decoder;
    std::string body;
    for (int i = 0; i < 30; ++i) body += "[]\n";
    body += std::string(100, 'x') + "\n";
    auto decoded = http::decode_body(body, decoder, 64);
    CHECK(decoded.too_long == 1);
    auto d = parse(http::ingest_response(decoded, {}).body);
    CHECK(d["accepted"].GetInt() == 0);
    CHECK(d["rejected"].GetInt() == 31);
    CHECK(d["errors"].Size() == 20);
  }
}
