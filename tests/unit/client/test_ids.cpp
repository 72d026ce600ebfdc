// Span and trace ids, SpanKind names and the sampling decision shared with the daemon.

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/cpp/ids.hpp"
#include "daemon/assembly/assembler.hpp"
#include "protocol/ids.hpp"

using namespace tracecol::client;

TEST_SUITE("client ids") {
TEST_CASE("trace ids are 32 and span ids 16 lowercase hex characters, never zero") {
  for (int i = 0; i < 1000; ++i) {
    const TraceId t = new_trace_id();
    const std::string th = t.hex();
    CHECK(th.size() == 32);
    CHECK(th.find_first_not_of("0123456789abcdef") == std::string::npos);
    CHECK(static_cast<bool>(t));
    const SpanId s = new_span_id();
    CHECK(s != 0);
    const std::string sh = span_id_hex(s);
    CHECK(sh.size() == 16);
    CHECK(sh.find_first_not_of("0123456789abcdef") == std::string::npos);
  }
}

TEST_CASE("the protocol parses the hex back to the same ids") {
  const TraceId t = new_trace_id();
  const auto parsed = tracecol::protocol::parse_trace_id(t.hex());
  REQUIRE(parsed.has_value());
  CHECK(parsed->hi == t.hi);
  CHECK(parsed->lo == t.lo);
  const SpanId s = new_span_id();
  const auto ps = tracecol::protocol::parse_span_id(span_id_hex(s));
  REQUIRE(ps.has_value());
  CHECK(*ps == s);
}

TEST_CASE("ids do not repeat across many draws on several threads") {
  constexpr int per_thread = 20000;
  std::vector<std::vector<SpanId>> got(4);
  std::vector<std::thread> threads;
  for (auto& v : got)
    threads.emplace_back([&v] {
      for (int i = 0; i < per_thread; ++i) v.push_back(new_span_id());
    });
  for (auto& t : threads) t.join();
  std::set<SpanId> all;
  for (const auto& v : got) all.insert(v.begin(), v.end());
  CHECK(all.size() == 4u * per_thread);
}

TEST_CASE("SpanKind names are the seed's") {
  CHECK(to_string(SpanKind::AGENT) == "AGENT");
  CHECK(to_string(SpanKind::TOOL) == "TOOL");
  CHECK(to_string(SpanKind::LLM) == "LLM");
  CHECK(to_string(SpanKind::CHAIN) == "CHAIN");
  CHECK(to_string(SpanKind::TEAM) == "TEAM");
  CHECK(to_string(SpanKind::CUSTOM) == "CUSTOM");
}

TEST_CASE("sampling decides exactly as the daemon does for the same id and rate") {
  int kept = 0;
  for (int i = 0; i < 5000; ++i) {
    const TraceId t = new_trace_id();
    const tracecol::protocol::TraceId d{t.hi, t.lo};
    for (double rate : {0.0, 0.01, 0.25, 0.5, 0.99, 1.0}) CHECK(sampled_in(t, rate) == tracecol::assembly::sampled_in(d, rate));
    kept += sampled_in(t, 0.5) ? 1 : 0;
  }
  CHECK(kept > 2000);
  CHECK(kept < 3000);
}
}
