#include <doctest/doctest.h>

#include "daemon/export/http/record_queue.hpp"

namespace eh = tracecol::exporters::http;

namespace {

eh::Record rec(const std::string& bytes, std::uint64_t spans = 1) { return eh::Record{bytes, spans, {}}; }

}  // namespace

TEST_SUITE("export http queue") {
  TEST_CASE("drops the oldest records when the trace limit is passed") {
    eh::RecordQueue q({3, 1000});
    for (const char* s : {"a", "b", "c"}) CHECK(q.push(rec(s)).traces == 0);
    const auto d = q.push(rec("d", 5));
    CHECK(d.traces == 1);
    CHECK(d.spans == 1);
    auto all = q.take(10, 1000);
    REQUIRE(all.size() == 3);
    CHECK(all[0].bytes == "b");
    CHECK(all[2].bytes == "d");
    CHECK(q.empty());
  }

  TEST_CASE("drops the oldest records when the byte limit is passed") {
    eh::RecordQueue q({100, 10});
    q.push(rec("aaaa"));
    q.push(rec("bbbb"));
    const auto d = q.push(rec("cccc"));
    CHECK(d.traces == 1);
    CHECK(q.bytes() == 8);
    CHECK(q.size() == 2);
  }

  TEST_CASE("takes batches within the trace and byte limits, an oversized record alone") {
    eh::RecordQueue q({100, 1000});
    q.push(rec("123456789012"));  // 12 bytes: more than a 10-byte batch
    q.push(rec("abc"));
    q.push(rec("def"));
    q.push(rec("ghi"));
    q.push(rec("jkl"));
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
