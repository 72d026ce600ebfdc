#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "daemon/export/console_exporter.hpp"
#include "daemon/export/fan_out.hpp"
#include "export_test_support.hpp"

namespace tracecol::exporters {
namespace {

constexpr std::int64_t ms = 1'000'000;
constexpr std::int64_t t0 = 1'732'500'000'000'000'000LL;

protocol::Span span(std::uint64_t id, std::uint64_t parent, std::string name, std::int64_t start_ms,
                    std::int64_t dur_ms) {
  protocol::Span s;
  s.span_id = id;
  s.parent_id = parent;
  s.name = std::move(name);
  s.run_id = "run-42";
  s.started_at_ns = t0 + start_ms * ms;
  s.ended_at_ns = dur_ms < 0 ? 0 : s.started_at_ns + dur_ms * ms;
  s.fields = protocol::field_name | protocol::field_run_id | protocol::field_started_at |
             (dur_ms < 0 ? 0 : protocol::field_ended_at) | (parent != 0 ? protocol::field_parent_id : 0);
  return s;
}

/** The seed's example: agent.run with llm.complete then tool.fetch under it. */
protocol::Trace seed_trace() {
  protocol::Trace t;
  // The same 8 hex digits at both ends, whichever end the header shows.
  t.trace_id = protocol::TraceId{0x3a7f1c2b00000000ULL, 0x000000003a7f1c2bULL};
  t.run_id = "run-42";
  t.complete = true;
  // Arrival order differs from tree order on purpose.
  t.spans.push_back(span(3, 1, "tool.fetch", 131, 12));
  t.spans.push_back(span(2, 1, "llm.complete", 1, 130));
  t.spans.push_back(span(1, 0, "agent.run", 0, 142));
  for (auto& s : t.spans) s.trace_id = t.trace_id;
  return t;
}

/** A pipe whose read end collects whatever the exporter wrote. */
struct Pipe {
  int fds[2] = {-1, -1};
  Pipe() { REQUIRE(::pipe2(fds, O_CLOEXEC) == 0); }
  ~Pipe() {
    for (int fd : fds) {
      if (fd >= 0) ::close(fd);
    }
  }
  std::string drain() {
    ::close(fds[1]);
    fds[1] = -1;
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
    return out;
  }
};

std::string render(const protocol::Trace& t) {
  Pipe p;
  ConsoleExporter console(ConsoleExporterOptions{p.fds[1]});
  REQUIRE(console.export_trace(t) == ExportStatus::ok);
  return p.drain();
}

TEST_SUITE("export.console") {
  TEST_CASE("prints the seed's example byte for byte") {
    CHECK(render(seed_trace()) ==
          "[Trace 3a7f1c2b] run_id=run-42\n"
          "agent.run [142ms]\n"
          "  llm.complete [130ms]\n"
          "  tool.fetch [12ms]\n");
  }

  TEST_CASE("marks errors, incomplete traces and late-span follow-ups") {
    auto t = seed_trace();
    t.spans[0].fields |= protocol::field_error;
    t.spans[0].error = "timeout";
    t.complete = false;
    const auto text = render(t);
    const auto lines = test::split_lines(text);
    REQUIRE(lines.size() == 4);
    CHECK(lines[0] == "[Trace 3a7f1c2b] run_id=run-42 (incomplete)");
    CHECK(lines[3].find("tool.fetch") != std::string::npos);
    CHECK(lines[3].find("ERROR: timeout") != std::string::npos);

    t.follow_up = true;
    const auto late = test::split_lines(render(t));
    REQUIRE_FALSE(late.empty());
    CHECK(late[0] == "[Trace 3a7f1c2b] run_id=run-42 (late spans)");
  }

  TEST_CASE("escapes control characters so a span cannot drive the terminal") {
    auto t = seed_trace();
    t.spans[1].name = "llm\x1b[2J\rcomplete\nforged [1ms]";
    t.spans[0].fields |= protocol::field_error;
    t.spans[0].error = "bad\x07\nline";
    const auto text = render(t);
    CHECK(std::count(text.begin(), text.end(), '\n') == 4);  // header + three spans
    CHECK(text.find('\x1b') == std::string::npos);
    CHECK(text.find('\r') == std::string::npos);
    CHECK(text.find('\x07') == std::string::npos);
  }

  TEST_CASE("neutralises every agent string: names, errors and the run id") {
    auto t = seed_trace();
    t.run_id = "run\x1b]0;owned\x07-42";                       // OSC: set the window title
    t.spans[1].name = "llm\xc2\x9b" "31mred";                   // U+009B: the one-byte CSI, as UTF-8
    t.spans[2].name = "agent\x9b" "2J\xff.run";                 // not UTF-8: raw 8-bit CSI and 0xff
    t.spans[0].name = "tool\xe2\x80\xae" "hctef\x7f";          // U+202E right-to-left override, DEL
    t.spans[0].fields |= protocol::field_error;
    t.spans[0].error = "\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\ \r\b";  // OSC 8 hyperlink, CR, BS
    const auto text = render(t);
    for (unsigned char c : text) {
      INFO("byte " << static_cast<unsigned>(c));
      CHECK((c == '\n' || (c >= 0x20 && c != 0x7f)));
    }
    CHECK(text.find("\xc2\x9b") == std::string::npos);
    CHECK(text.find("\xe2\x80\xae") == std::string::npos);
    CHECK(text.find("run_id=run\\x1b]0;owned\\x07-42") != std::string::npos);
    CHECK(text.find("llm\\x9b31mred") != std::string::npos);
    CHECK(text.find("agent\xef\xbf\xbd" "2J\xef\xbf\xbd.run") != std::string::npos);
    CHECK(text.find("tool\\u202ehctef\\x7f") != std::string::npos);
    CHECK(text.find("ERROR: \\x1b]8;;http://evil\\x1b\\click") != std::string::npos);
    CHECK(std::count(text.begin(), text.end(), '\n') == 4);
    // Printable text, including multi-byte UTF-8, passes unchanged.
    std::string safe;
    append_terminal_safe(safe, "llm \xe2\x86\x92 tool \xf0\x9f\x94\xa7 caf\xc3\xa9");
    CHECK(safe == "llm \xe2\x86\x92 tool \xf0\x9f\x94\xa7 caf\xc3\xa9");
    safe.clear();
    append_terminal_safe(safe, "\xed\xa0\x80|\xc0\xaf|\xf4\x90\x80\x80|\xe2\x82");  // surrogate, overlong, > U+10FFFF, cut short
    CHECK(safe.find_first_not_of("|\xef\xbf\xbd") == std::string::npos);
  }

  TEST_CASE("writes each trace whole through the fan-out, and fails on a bad fd") {
    Pipe p;
    FanOut fan;
    fan.add(std::make_unique<ConsoleExporter>(ConsoleExporterOptions{p.fds[1]}));
    fan.start();
    const auto t = std::make_shared<const protocol::Trace>(seed_trace());
    fan.publish(t);
    fan.publish(t);
    REQUIRE(fan.drain(std::chrono::steady_clock::now() + std::chrono::seconds(10)));
    fan.stop();
    const auto text = p.drain();
    std::string one;
    ConsoleExporter::format(one, *t);
    CHECK(text == one + one);
    CHECK(fan.counters().at(0).traces_sent == 2);

    ConsoleExporter bad(ConsoleExporterOptions{-1});
    CHECK(bad.export_trace(*t) == ExportStatus::failed);
  }
}

}  // namespace
}  // namespace tracecol::exporters
