"""The seed's own dataclasses exported through SocketTraceExporter: what the daemon writes
to its NDJSON file and answers on GET /api/traces/{id} matches them field by field."""

from __future__ import annotations

import asyncio
import time
import unittest

import tracecol
from daemon_fixture import DaemonTestCase, epoch_of_monotonic, wait_until, without_peer
from seed_model import SeedRuntime, Span, SpanKind, Trace, TraceExporter, TracingConfig


async def run_seed_agent(runtime: SeedRuntime, run_id: str) -> Trace:
    """One agent run as the seed's tracing layer records it (children finish first)."""
    trace = Trace(run_id=run_id)
    root = Span(name="agent.run", kind=SpanKind.AGENT, inputs={"task": "summarise", "n": 3},
                metadata={"agent": "support"})
    llm = Span(name="llm.complete", kind=SpanKind.LLM, parent_id=root.span_id,
               inputs={"prompt": "héllo ✓", "temperature": 0.25},
               metadata={"model": "m-1", "tokens": {"in": 12, "out": 40}})
    tool = Span(name="tool.fetch", kind=SpanKind.TOOL, parent_id=llm.span_id,
                inputs={"url": "https://example.com", "retries": None})
    tool.error = "timeout after 3s"
    await runtime.finish(tool)
    await runtime.finish(llm, outputs={"text": "hello", "finish": ["stop"]})
    await runtime.finish(root, outputs={"answer": 42})
    trace.spans = [root, llm, tool]
    await runtime.end(trace)
    return trace


class SeedExporterTest(DaemonTestCase):
    def test_satisfies_the_seeds_runtime_checkable_trace_exporter_protocol(self) -> None:
        exporter = self.exporter(self.tmp.file("none.sock"))
        self.assertIsInstance(exporter, TraceExporter)
        self.assertTrue(asyncio.iscoroutinefunction(exporter.export))
        self.assertTrue(asyncio.iscoroutinefunction(exporter.export_span))

    def test_seed_trace_reaches_the_ndjson_file_and_the_query_api_field_by_field(self) -> None:
        daemon = self.start_daemon()
        exporter = self.exporter(daemon.socket_path)
        config = TracingConfig(enabled=True, exporter=exporter)  # the whole integration
        trace = asyncio.run(run_seed_agent(SeedRuntime(config), "run-42"))
        self.flush(exporter)
        self.assertEqual(exporter.stats()["rejected"], 0, exporter.stats())
        self.assertEqual(exporter.dropped, 0)

        records = wait_until(lambda: daemon.records_of(trace.trace_id), what="the NDJSON record")
        self.assertEqual(len(records), 1, records)
        self.check_trace_record(records[0], trace)
        queried = daemon.trace(trace.trace_id)
        self.assertIsNotNone(queried)
        self.check_trace_record(queried, trace)
        status, by_run = daemon.get("/api/runs/run-42")
        self.assertEqual(status, 200, by_run)
        self.assertIn(trace.trace_id, str(by_run))

    def check_trace_record(self, rec: dict, trace: Trace) -> None:
        self.assertEqual(rec["trace_id"], trace.trace_id)
        self.assertEqual(rec["run_id"], "run-42")
        self.assertIs(rec["complete"], True)
        self.assertEqual(rec["span_count"], 3)
        self.assertEqual(rec["error_count"], 1)
        root = trace.spans[0]
        self.assertAlmostEqual(rec["started_at"], epoch_of_monotonic(root.started_at), delta=0.05)
        self.assertAlmostEqual(rec["ended_at"], epoch_of_monotonic(root.ended_at), delta=0.05)
        self.assertAlmostEqual(rec["duration_ms"], root.duration_ms, delta=0.002)
        spans = rec["spans"]
        self.assertEqual([s["span_id"] for s in spans], [s.span_id for s in trace.spans],
                         "spans in tree order")
        for depth, (got, want) in enumerate(zip(spans, trace.spans)):
            with self.subTest(span=want.name):
                self.assertEqual(got["trace_id"], trace.trace_id)
                self.assertEqual(got["span_id"], want.span_id)
                self.assertEqual(got["parent_id"], want.parent_id)
                self.assertEqual(got["run_id"], "run-42")
                self.assertEqual(got["name"], want.name)
                self.assertEqual(got["kind"], want.kind.name)
                self.assertEqual(got["depth"], depth)
                self.assertEqual(got["inputs"], want.inputs)
                self.assertEqual(got["outputs"], want.outputs)
                self.assertEqual(got["error"], want.error)
                self.assertEqual(without_peer(got["metadata"]), want.metadata)
                self.assertAlmostEqual(got["started_at"], epoch_of_monotonic(want.started_at),
                                       delta=0.05)
                self.assertAlmostEqual(got["ended_at"], epoch_of_monotonic(want.ended_at),
                                       delta=0.05)
                # Both ends go through one clock offset: the duration survives exactly.
                self.assertAlmostEqual(got["duration_ms"], want.duration_ms, delta=0.002)
                self.assertNotIn("orphan", got)
                self.assertNotIn("late", got)

    def test_plain_dicts_with_seed_keys_and_epoch_times_are_accepted_too(self) -> None:
        daemon = self.start_daemon()
        exporter = self.exporter(daemon.socket_path)
        now = time.time()
        trace = {"trace_id": "3a7f1c2b", "run_id": "dict-run", "spans": [
            {"span_id": "1", "name": "agent.run", "kind": "AGENT", "started_at": now,
             "ended_at": now + 0.142, "inputs": {"q": "x"}, "outputs": None},
            {"span_id": "2", "parent_id": "1", "name": "llm.complete", "kind": "SpanKind.LLM",
             "started_at": now + 0.005, "ended_at": now + 0.135, "metadata": {"model": "m"}},
        ]}
        asyncio.run(exporter.export(trace))
        self.flush(exporter)
        tid = "0000000000000000000000003a7f1c2b"
        rec = wait_until(lambda: daemon.records_of(tid), what="the dict trace")[0]
        self.assertEqual(rec["run_id"], "dict-run")
        self.assertEqual([s["span_id"] for s in rec["spans"]], ["0000000000000001", "0000000000000002"])
        self.assertEqual([s["kind"] for s in rec["spans"]], ["AGENT", "LLM"])
        self.assertAlmostEqual(rec["duration_ms"], 142.0, delta=0.01)
        self.assertEqual(without_peer(rec["spans"][1]["metadata"]), {"model": "m"})

    def test_package_exports_the_documented_names(self) -> None:
        for name in ("SocketTraceExporter", "Tracer", "Span", "SpanKind", "traced",
                     "trace_context", "configure", "get_tracer"):
            self.assertTrue(hasattr(tracecol, name), name)


if __name__ == "__main__":
    unittest.main()
