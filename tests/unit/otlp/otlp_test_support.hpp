#pragma once
// The fixed trace the OTLP golden and round-trip tests share.

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "protocol/span.hpp"

namespace tracecol::protocol::testing {

/** 3 spans: an AGENT root, an LLM child with inputs/outputs, a TOOL child with an error and metadata. */
inline Trace golden_trace() {
  Trace t;
  t.trace_id = TraceId{0x0af7651916cd43ddULL, 0x8448eb211c80319cULL};
  t.run_id = "run-42";
  t.complete = true;
  Span root;
  root.trace_id = t.trace_id;
  root.span_id = 0xb7ad6b7169203331ULL;
  root.kind = SpanKind::agent;
  root.name = "planner";
  root.run_id = "run-42";
  root.started_at_ns = 1732500000000000000LL;
  root.ended_at_ns = 1732500002500000001LL;
  root.fields = field_run_id | field_name | field_kind | field_started_at | field_ended_at;
  Span llm = root;
  llm.span_id = 0x00f067aa0ba902b7ULL;
  llm.parent_id = root.span_id;
  llm.kind = SpanKind::llm;
  llm.name = "chat \"gpt\"";
  llm.started_at_ns = 1732500000100000007LL;
  llm.ended_at_ns = 1732500000900000999LL;
  llm.inputs = R"({"prompt":"hi\nthere","temperature":0.2})";
  llm.outputs = R"({"text":"hello \u00e9"})";
  llm.fields |= field_parent_id | field_inputs | field_outputs;
  Span tool = root;
  tool.span_id = 0x1111111111111111ULL;
  tool.parent_id = root.span_id;
  tool.kind = SpanKind::tool;
  tool.name = "search";
  tool.started_at_ns = 1732500001000000000LL;
  tool.ended_at_ns = 1732500002000000000LL;
  tool.inputs = R"({"q":"tracecol"})";
  tool.error = "timeout: 30s";
  tool.metadata = R"({"attempt":3,"ratio":0.5,"ok":false,"tags":["a","b"],"note":"caf\u00e9 \u2713","nothing":null})";
  tool.fields |= field_parent_id | field_inputs | field_error | field_metadata;
  t.spans = {root, llm, tool};
  return t;
}

inline std::string golden_path() {
  const char* dir = std::getenv("TRACECOL_SOURCE_DIR");
  return std::string(dir != nullptr ? dir : ".") + "/tests/unit/otlp/golden/request.json";
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace tracecol::protocol::testing
