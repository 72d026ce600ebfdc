// tracectl's command line: subcommands, defaults, environment, filters and usage errors.

#include <doctest/doctest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "client/cli/exit_codes.hpp"
#include "client/cli/options.hpp"

using namespace tracecol::cli;

namespace {

struct Parsed {
  CliOptions options;
  std::optional<int> code;
};

Parsed parse(std::vector<const char*> args) {
  Parsed p;
  args.insert(args.begin(), "tracectl");
  auto app = make_app(p.options);
  p.code = parse_command_line(*app, static_cast<int>(args.size()), args.data());
  return p;
}

}  // namespace

TEST_SUITE("cli options") {
TEST_CASE("names the subcommand and keeps the documented defaults") {
  ::unsetenv("TRACECOL_SOCKET");
  ::unsetenv("TRACECOL_HTTP");
  const auto p = parse({"ls"});
  CHECK_FALSE(p.code);
  CHECK(p.options.command == "ls");
  CHECK(p.options.global.socket == "/tmp/tracecol.sock");
  CHECK(p.options.global.http == "127.0.0.1:4318");
  CHECK(p.options.ls.limit == 20);
}

TEST_CASE("takes the socket and HTTP address from the environment, and the flags over it") {
  ::setenv("TRACECOL_SOCKET", "/run/env.sock", 1);
  ::setenv("TRACECOL_HTTP", "unix:/run/api.sock", 1);
  const auto env = parse({"send"});
  CHECK(env.options.global.socket == "/run/env.sock");
  CHECK(env.options.global.http == "unix:/run/api.sock");
  const auto flag = parse({"--socket", "/run/flag.sock", "--http", "10.0.0.1:80", "send"});
  CHECK(flag.options.global.socket == "/run/flag.sock");
  CHECK(flag.options.global.http == "10.0.0.1:80");
  ::unsetenv("TRACECOL_SOCKET");
  ::unsetenv("TRACECOL_HTTP");
}

TEST_CASE("reads every ls filter and builds the API's query string") {
  const auto p = parse({"ls", "--run-id", "run 1", "--name", "llm", "--kind", "LLM", "--errors", "--min-duration-ms",
                        "100", "-q", "timeout", "--meta", "model=gpt-4", "--meta", "user=a&b", "--since", "1732500000",
                        "--limit", "5", "--json"});
  REQUIRE_FALSE(p.code);
  std::string error;
  CHECK(filter_query(p.options.ls.filter, error) ==
        "?run_id=run%201&name=llm&kind=LLM&error=true&min_duration_ms=100&q=timeout&meta.model=gpt-4&meta.user=a%26b");
  CHECK(error.empty());
  CHECK(p.options.ls.since == "1732500000");
  CHECK(p.options.ls.limit == 5);
  CHECK(p.options.ls.json);
}

TEST_CASE("refuses a --meta without KEY=VALUE") {
  FilterOptions f;
  f.meta = {"novalue"};
  std::string error;
  filter_query(f, error);
  CHECK(error.find("KEY=VALUE") != std::string::npos);
}

TEST_CASE("reads --since as epoch seconds or as a duration ago") {
  CHECK(time_bound("1732500000", 2e9) == std::optional<std::string>("1732500000"));
  CHECK(time_bound("15m", 1000000.0) == std::optional<std::string>("999100.000000"));
  CHECK(time_bound("2h", 1000000.0) == std::optional<std::string>("992800.000000"));
  CHECK_FALSE(time_bound("15x", 1000000.0));
  CHECK_FALSE(time_bound("yesterday", 1000000.0));
  CHECK_FALSE(time_bound("-5", 1000000.0));
}

TEST_CASE("parses get, tree, tail and bench with their options") {
  const auto g = parse({"get", "abc", "--raw"});
  CHECK(g.options.command == "get");
  CHECK(g.options.get.id == "abc");
  CHECK(g.options.get.raw);
  CHECK(parse({"tree", "abc"}).options.tree.id == "abc");
  const auto t = parse({"tail", "--spans", "--no-errors", "--kind", "TOOL"});
  CHECK(t.options.command == "tail");
  CHECK(t.options.tail.spans);
  std::string error;
  CHECK(filter_query(t.options.tail.filter, error) == "?kind=TOOL&error=false");
  const auto b = parse({"bench", "-c", "4", "--spans-per-trace", "20", "--payload-bytes", "512", "--rate", "1000",
                        "--duration", "2.5"});
  REQUIRE_FALSE(b.code);
  CHECK(b.options.bench.connections == 4);
  CHECK(b.options.bench.spans_per_trace == 20);
  CHECK(b.options.bench.payload_bytes == 512);
  CHECK(b.options.bench.rate == "1000");
  CHECK(b.options.bench.duration_s == 2.5);
}

TEST_CASE("exits 2 on usage errors and 0 on --help") {
  CHECK(parse({}).code == std::optional<int>(exit_usage));
  CHECK(parse({"frobnicate"}).code == std::optional<int>(exit_usage));
  CHECK(parse({"get"}).code == std::optional<int>(exit_usage));            // missing id
  for (const char* id : {"zz", "3a7f-1c", "", "000000000000000000000000000000001"}) {  // not 1-32 hex digits
    CAPTURE(id);
    CHECK(parse({"get", id}).code == std::optional<int>(exit_usage));
    CHECK(parse({"tree", id}).code == std::optional<int>(exit_usage));
  }
  CHECK_FALSE(parse({"get", "3A7f1c2b"}).code.has_value());  // hex, either case: goes on to run
  CHECK(parse({"ls", "--limit", "0"}).code == std::optional<int>(exit_usage));
  CHECK(parse({"ls", "--errors", "--no-errors"}).code == std::optional<int>(exit_usage));
  CHECK(parse({"bench", "--rate", "fast"}).code == std::optional<int>(exit_usage));
  CHECK(parse({"--timeout", "0", "ls"}).code == std::optional<int>(exit_usage));
  CHECK(parse({"--timeout", "1e300", "ls"}).code == std::optional<int>(exit_usage));
  CHECK(parse({"bench", "--duration", "1e300"}).code == std::optional<int>(exit_usage));
  for (const char* rate : {"inf", "nan", "-5", "0", "1e999", "5x"}) {
    CAPTURE(rate);
    CHECK(parse({"bench", "--rate", rate}).code == std::optional<int>(exit_usage));
  }
  for (const char* sub : {"send", "ls", "get", "tree", "tail", "bench"}) {
    CAPTURE(sub);
    CHECK(parse({sub, "--help"}).code == std::optional<int>(exit_ok));
  }
  CHECK(parse({"--help"}).code == std::optional<int>(exit_ok));
}
}
