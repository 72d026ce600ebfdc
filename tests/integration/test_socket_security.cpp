// The agents' socket as a security boundary: directory and file modes with no window, the
// peer's pid and uid stamped on every span it sends (and not forgeable by the agent), and
// rejection logs that identify a bad line without ever echoing its bytes.

#include <doctest/doctest.h>
#include <rapidjson/document.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <string>
#include <vector>

#include "protocol/text_bytes.hpp"
#include "tests/integration/harness.hpp"
#include "tests/integration/http_client.hpp"
#include "tests/integration/wire.hpp"

using namespace tracecol::integration;

namespace {

/** Mode bits of a path (no symlink following); 0 when absent. */
unsigned mode_of(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

/** Restores the process umask when it goes out of scope. */
struct UmaskGuard {
  explicit UmaskGuard(mode_t m) : old(::umask(m)) {}
  ~UmaskGuard() { ::umask(old); }
  mode_t old;
};

/** How many members of object `v` are named `key` (RapidJSON keeps duplicate keys). */
int members_named(const rapidjson::Value& v, const char* key) {
  int n = 0;
  for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it)
    if (std::string(it->name.GetString()) == key) ++n;
  return n;
}

/** The span with short id `span` among a record's spans; nullptr when absent. */
const rapidjson::Value* span_of(const rapidjson::Value& record, const std::string& span) {
  if (!record.HasMember("spans")) return nullptr;
  for (const auto& s : record["spans"].GetArray())
    if (str(s, "span_id") == span_hex(span)) return &s;
  return nullptr;
}

/** Checks one span's metadata: the daemon's peer keys once each, with this process's pid/uid. */
void check_peer_metadata(const rapidjson::Value* span, const char* where) {
  INFO(where);
  REQUIRE(span != nullptr);
  REQUIRE(span->HasMember("metadata"));
  const rapidjson::Value& m = (*span)["metadata"];
  REQUIRE(m.IsObject());
  CHECK(members_named(m, "peer.pid") == 1);
  CHECK(members_named(m, "peer.uid") == 1);
  REQUIRE(m.HasMember("peer.pid"));
  REQUIRE(m.HasMember("peer.uid"));
  CHECK(m["peer.pid"].GetInt64() == static_cast<std::int64_t>(::getpid()));
  CHECK(m["peer.uid"].GetInt64() == static_cast<std::int64_t>(::getuid()));
}

}  // namespace

TEST_SUITE("socket security") {
TEST_CASE("missing socket directories are made 0750 and the socket has --socket-mode the moment it appears") {
  // A umask that would leave a plain bind() at 0755: a window would show as the wrong mode.
  UmaskGuard umask_guard(022);
  for (const unsigned mode : {0600u, 0660u, 0666u}) {
    TempDir dir;
    const std::string sock = dir.file("run/tracecol/s.sock");
    char mode_text[8];
    std::snprintf(mode_text, sizeof mode_text, "%04o", mode);
    Daemon d(dir, sock, {"--socket-mode", mode_text, "--export-file", dir.file("out.ndjson")});
    // Polls as fast as it can: the first mode anyone could see is the one checked.
    unsigned first_seen = 0;
    const auto deadline = std::chrono::steady_clock::now() + default_deadline;
    while (std::chrono::steady_clock::now() < deadline && (first_seen = mode_of(sock)) == 0) {
    }
    INFO("mode " << mode_text);
    CHECK(first_seen == mode);
    REQUIRE(d.wait_ready());
    CHECK(mode_of(sock) == mode);
    CHECK(mode_of(dir.file("run")) == 0750);
    CHECK(mode_of(dir.file("run/tracecol")) == 0750);
    const auto st = d.terminate();
    REQUIRE(st);
    CHECK(exit_code(*st) == 0);
  }
}

TEST_CASE("every span from the socket carries the peer's pid and uid in its metadata, the agent cannot set them") {
  TempDir dir;
  const std::string out = dir.file("out.ndjson");
  HttpDaemon h(dir, {"--export-file", out, "--trace-linger", "50ms"});
  SocketClient c(h.daemon.socket_path());
  REQUIRE(c.connected());
  std::string lines;
  // No metadata; plain metadata; whitespace-only object; the agent's own peer keys, one of
  // them spelled with an escape; a nested peer.pid (not top level: kept).
  lines += span_line(SpanSpec("a1", "1").named("root"));
  lines += span_line(SpanSpec("a1", "2", "1").with(R"("metadata":{"model":"m-1","n":2})"));
  lines += span_line(SpanSpec("a1", "3", "1").with(R"("metadata":{ })"));
  lines += span_line(SpanSpec("a1", "4", "1").with(R"("metadata":{"peer.pid":1,"p\u0065er.uid":0,"keep":true})"));
  lines += span_line(SpanSpec("a1", "5", "1").with(R"("metadata":{"x":{"peer.pid":7}})"));
  // span_start + span_end, and a whole trace event.
  lines += span_line(SpanSpec("a1", "6", "1").as("span_start").at(1732500000.0, -1));
  lines += span_line(SpanSpec("a1", "6").as("span_end").at(-1, 1732500000.2).with(R"("metadata":{"peer.uid":5,"end":1})"));
  lines += trace_line(trace_hex("b2"), "run-2", {SpanSpec("b2", "1"), SpanSpec("b2", "2", "1")});
  lines += trace_end_line(trace_hex("a1"));
  REQUIRE(c.write_all(lines));
  const auto f = c.flush(1);
  REQUIRE(f);
  CHECK(f->accepted == 9);
  CHECK(f->rejected == 0);

  // Over HTTP POST /api/spans there is no peer: no peer keys.
  HttpClient post(h.port);
  const auto posted = post.request("POST", "/api/spans", span_line(SpanSpec("c3", "1")));
  REQUIRE(posted);
  CHECK(posted->status / 100 == 2);

  for (const char* id : {"a1", "b2", "c3"}) {
    REQUIRE(wait_until([&] {
      const auto r = h.get("/api/traces/" + trace_hex(id));
      return r && r->status == 200;
    }));
  }
  const auto api_a1 = h.get("/api/traces/" + trace_hex("a1"));
  REQUIRE(api_a1);
  rapidjson::Document a1;
  a1.Parse(api_a1->body.c_str());
  REQUIRE(a1.IsObject());
  for (const char* s : {"1", "2", "3", "4", "5", "6"}) check_peer_metadata(span_of(a1, s), s);
  CHECK(str((*span_of(a1, "2"))["metadata"], "model") == "m-1");
  CHECK(flag((*span_of(a1, "4"))["metadata"], "keep"));
  CHECK(raw((*span_of(a1, "5"))["metadata"], "x") == R"({"peer.pid":7})");
  CHECK(num((*span_of(a1, "6"))["metadata"], "end") == 1);

  const auto api_b2 = h.get("/api/traces/" + trace_hex("b2"));
  REQUIRE(api_b2);
  rapidjson::Document b2;
  b2.Parse(api_b2->body.c_str());
  REQUIRE(b2.IsObject());
  check_peer_metadata(span_of(b2, "1"), "trace event span 1");
  check_peer_metadata(span_of(b2, "2"), "trace event span 2");

  const auto api_c3 = h.get("/api/traces/" + trace_hex("c3"));
  REQUIRE(api_c3);
  rapidjson::Document c3;
  c3.Parse(api_c3->body.c_str());
  REQUIRE(c3.IsObject());
  const auto* posted_span = span_of(c3, "1");
  REQUIRE(posted_span != nullptr);
  CHECK_FALSE((*posted_span)["metadata"].HasMember("peer.pid"));
  CHECK_FALSE((*posted_span)["metadata"].HasMember("peer.uid"));

  // The NDJSON file says the same.
  c.close();
  const auto st = h.daemon.terminate();
  REQUIRE(st);
  CHECK(exit_code(*st) == 0);
  const auto file = read_ndjson(out);
  CHECK(file.bad_lines == 0);
  const auto a1_records = records_for(file, trace_hex("a1"));
  REQUIRE(a1_records.size() == 1);
  for (const char* s : {"1", "2", "3", "4", "5", "6"}) check_peer_metadata(span_of(*a1_records[0], s), s);
  const auto c3_records = records_for(file, trace_hex("c3"));
  REQUIRE(c3_records.size() == 1);
  REQUIRE(span_of(*c3_records[0], "1") != nullptr);
  CHECK_FALSE((*span_of(*c3_records[0], "1"))["metadata"].HasMember("peer.pid"));
}

TEST_CASE("rejection logs name reason, length, offset and an FNV-1a hash of the line, never its bytes") {
  TempDir dir;
  // Debug level: every log path that could echo a line is on.
  Daemon d(dir, dir.file("s.sock"), {"--log-level", "debug", "--max-line-bytes", "4096", "--export-file",
                                     dir.file("out.ndjson")});
  REQUIRE(d.wait_ready());
  const std::string secret = "sk-live-7f3a9c1e5b";
  const std::string esc = "\x1b]0;owned\x07";  // a terminal escape: must not reach the log either
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"invalid_json", R"({"type":"span","api_key":")" + secret + R"(")"},
      {"unknown_type", R"({"type":")" + secret + R"(","trace_id":"1"})"},
      {"bad_trace_id", R"({"type":"span","trace_id":")" + secret + R"(","span_id":"1","started_at":1732500000})"},
      {"invalid_utf8", R"({"type":"span","name":")" + secret + "\xff" + esc + R"("})"},
  };
  SocketClient c(d.socket_path());
  REQUIRE(c.connected());
  std::string lines;
  for (const auto& [reason, line] : bad) lines += line + "\n";
  lines += "{\"type\":\"span\",\"name\":\"" + secret + std::string(5000, 'x') + "\"}\n";  // too long
  REQUIRE(c.write_all(lines));
  const auto f = c.flush(1);
  REQUIRE(f);
  CHECK(f->rejected == static_cast<std::int64_t>(bad.size() + 1));
  // And a partial line holding the secret, cut off by EOF (logged at debug).
  SocketClient partial(d.socket_path());
  REQUIRE(partial.connected());
  REQUIRE(partial.write_all("{\"type\":\"span\",\"name\":\"" + secret));
  partial.close();
  c.close();
  // The daemon logs the partial line when it reads that connection's EOF; SIGTERM before
  // then would race it.
  CHECK(wait_until([&] { return d.err().find("partial line of") != std::string::npos; }));
  const auto st = d.terminate();
  REQUIRE(st);
  CHECK(exit_code(*st) == 0);

  const std::string err = d.err();
  INFO("stderr:\n" << err);
  CHECK(err.find(secret) == std::string::npos);
  CHECK(err.find("sk-live") == std::string::npos);
  CHECK(err.find('\x1b') == std::string::npos);
  CHECK(err.find("owned") == std::string::npos);
  for (const auto& [reason, line] : bad) {
    char hash[17];
    std::snprintf(hash, sizeof hash, "%016" PRIx64, tracecol::protocol::fnv1a(line));
    const std::size_t at = err.find("rejected (" + reason + ")");
    CHECK_MESSAGE(at != std::string::npos, reason);
    if (at == std::string::npos) continue;
    const std::string log_line = err.substr(at, err.find('\n', at) - at);
    CHECK_MESSAGE(log_line.find("line length " + std::to_string(line.size())) != std::string::npos, log_line);
    CHECK_MESSAGE(log_line.find(hash) != std::string::npos, log_line);
    CHECK_MESSAGE(log_line.find("at byte ") != std::string::npos, log_line);
  }
  CHECK(err.find("rejected (line_too_long)") != std::string::npos);
  CHECK(err.find("partial line of") != std::string::npos);
  CHECK(err.find("partial_dropped=1") != std::string::npos);
}
}
