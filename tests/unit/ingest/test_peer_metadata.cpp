// The peer metadata path: the agent's own top-level peer.* members are removed exactly
// (escapes included, nested keys kept), and the daemon's are rendered into valid JSON.

#include <doctest/doctest.h>

#include <string>

#include "protocol/encoder.hpp"
#include "protocol/json_merge.hpp"
#include "protocol/span.hpp"

using namespace tracecol::protocol;

TEST_SUITE("peer metadata") {
  TEST_CASE("remove_json_members drops only the named top-level members, however spelled") {
    std::string m = R"({"a":1,"peer.pid":2,"p\u0065er.uid":"x","n":{"peer.pid":3}})";
    CHECK(remove_json_members(m, {peer_pid_key, peer_uid_key}));
    CHECK(m == R"({"a":1,"n":{"peer.pid":3}})");
    std::string only = R"({ "peer.pid" : 1 })";
    CHECK(remove_json_members(only, {peer_pid_key, peer_uid_key}));
    CHECK(only == "{}");
    std::string none = R"({"peer.pidx":1,"x":"peer.pid"})";
    CHECK_FALSE(remove_json_members(none, {peer_pid_key, peer_uid_key}));
    CHECK(none == R"({"peer.pidx":1,"x":"peer.pid"})");
  }

  TEST_CASE("append_metadata_json adds peer.pid and peer.uid to any stored object, and nothing without a peer") {
    Span s;
    auto render = [&s] {
      std::string out;
      append_metadata_json(out, s);
      return out;
    };
    CHECK(render() == "{}");
    s.has_peer = true;
    s.peer_pid = 4242;
    s.peer_uid = 1000;
    CHECK(render() == R"({"peer.pid":4242,"peer.uid":1000})");
    s.metadata = R"({ })";
    CHECK(render() == R"({ "peer.pid":4242,"peer.uid":1000})");
    s.metadata = R"({"a":[1,{"b":2}] })";
    CHECK(render() == R"({"a":[1,{"b":2}] ,"peer.pid":4242,"peer.uid":1000})");
    s.metadata.clear();
    s.peer_pid = 0;  // outside our pid namespace
    CHECK(render() == R"({"peer.pid":0,"peer.uid":1000})");
  }
}
