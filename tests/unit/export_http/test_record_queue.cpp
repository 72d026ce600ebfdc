#include <doctest/doctest.h>

#include "daemon/export/http/record_queue.hpp"
#include "protocol/encoder.hpp"
#include "protocol/otlp_encoder.hpp"
#include "tests/unit/otlp/otlp_test_support.hpp"

namespace eh = tracecol::exporters::http;

namespace {

// A record counted as `bytes` long; its trace's id tells records apart.
eh::Record rec(std::uint64_t bytes, std::uint64_t spans = 1, std::uint64_t id = 0) {
  auto trace = std::make_shared<tracecol::protocol::Trace>();
  trace->trace_id = tracecol::protocol::TraceId{0, id};
  return eh::Record{std::move(trace), bytes, spans, {}};
}

}  // namespace

TEST_SUITE("export http queue") {
  TEST_CASE("drops the oldest records when the trace limit is passed") {
    eh::RecordQueue q({3, 1000});
    for (std::uint64_t id : {1, 2, 3}) CHECK(q.push(rec(1, 1, id)).traces == 0);
    const auto d = q.push(rec(1, 5, 4));
    CHECK(d.traces == 1);
    CHECK(d.spans == 1);
    auto all = q.take(10, 1000);
    REQUIRE(all.size() == 3);
    CHECK(all[0].trace->trace_id.lo == 2);
    CHECK(all[2].trace->trace_id.lo == 4);
    CHECK(q.spans() == 0);
    CHECK(q.empty());
  }

  TEST_CASE("drops the oldest records when the byte limit is passed") {
    eh::RecordQueue q({100, 10});
    q.push(rec(4));
    q.push(rec(4));
    const auto d = q.push(rec(4));
    CHECK(d.traces == 1);
    CHECK(q.bytes() == 8);
    CHECK(q.size() == 2);
  }

  TEST_CASE("takes batches within the trace and byte limits, an oversized record alone") {
    eh::RecordQueue q({100, 1000});
    q.push(rec(12));  // more than a 10-byte batch
    for (int i = 0; i < 4; ++i) q.push(rec(3));
    CHECK(q.batch_ready(5, 1000));
    CHECK_FALSE(q.batch_ready(6, 1000));
    CHECK(q.batch_ready(6, 24));
    CHECK(q.take(10, 10).size() == 1);
    CHECK(q.take(2, 1000).size() == 2);
    CHECK(q.take(10, 6).size() == 2);
    CHECK(q.empty());
    CHECK(q.bytes() == 0);
    CHECK(q.spans() == 0);
  }
}

TEST_SUITE("export http queue") {
  TEST_CASE("put_back returns records to the front in order, then holds the limits") {
    eh::RecordQueue q({3, 1000});
    for (std::uint64_t id : {1, 2, 3}) q.push(rec(1, 1, id));
    auto taken = q.take(2, 1000);  // 1, 2
    q.push(rec(1, 1, 4));
    q.push(rec(1, 1, 5));          // 3, 4, 5
    const auto d = q.put_back(std::move(taken));  // 1, 2, 3, 4, 5: the two oldest go
    CHECK(d.traces == 2);
    const auto all = q.take(10, 1000);
    REQUIRE(all.size() == 3);
    CHECK(all[0].trace->trace_id.lo == 3);
    CHECK(all[2].trace->trace_id.lo == 5);
    eh::RecordQueue r({10, 1000});
    r.push(rec(1, 1, 9));
    CHECK(r.put_back({rec(1, 1, 7), rec(1, 1, 8)}).traces == 0);
    const auto back = r.take(10, 1000);
    REQUIRE(back.size() == 3);
    CHECK(back[0].trace->trace_id.lo == 7);
    CHECK(back[1].trace->trace_id.lo == 8);
    CHECK(back[2].trace->trace_id.lo == 9);
  }

  TEST_CASE("a trace's size estimate covers its encodings, and its footprint even when escaping outgrows it") {
    tracecol::protocol::Trace plain = tracecol::protocol::testing::golden_trace();  // every field set
    tracecol::protocol::Trace escaped = plain;
    for (auto& s : escaped.spans) {
      s.name = std::string(300, '"');
      s.inputs = "{\"prompt\":\"" + std::string(2000, '\n') + "\"}";
      s.metadata = "{\"k\":\"" + std::string(500, '\\') + "\",\"n\":1}";
    }
    for (const auto* trace : {&plain, &escaped}) {
      std::uint64_t footprint = 0;
      for (const auto& s : trace->spans) footprint += s.footprint();
      CHECK(eh::encoded_size_estimate(*trace) >= footprint);  // the queue bound covers what it keeps alive
    }
    std::string otlp;
    tracecol::protocol::append_otlp_spans(otlp, plain);
    std::string json;
    tracecol::protocol::append_trace_json(json, plain);
    CHECK(eh::encoded_size_estimate(plain) >= otlp.size());
    CHECK(eh::encoded_size_estimate(plain) >= json.size() + 1);
    // (the escaped trace encodes larger than estimated: the sender cuts batches by real size)
    std::string escaped_otlp;
    tracecol::protocol::append_otlp_spans(escaped_otlp, escaped);
    CHECK(escaped_otlp.size() > eh::encoded_size_estimate(escaped));
  }
}
