"""export_span makes a span visible live wherever it can learn its trace (a trace_id
attribute, the agent's trace context, a parent already seen); export(trace) settles the
rest; the daemon never shows a span twice."""

from __future__ import annotations

import asyncio
import unittest
from collections import Counter
from typing import List

import tracecol
from daemon_fixture import DaemonTestCase, wait_until
from seed_model import SeedRuntime, Span, SpanKind, Trace, TracingConfig


class SpanWithTraceId(Span):
    """A seed Span some agents extend with the trace it belongs to."""


def span_ids_in_file(daemon, trace_id: str) -> List[str]:
    return [s["span_id"] for r in daemon.records_of(trace_id) for s in r["spans"]]


class LiveSpansTest(DaemonTestCase):
    def make_trace(self, run_id: str = "live-run"):
        trace = Trace(run_id=run_id)
        root = Span(name="agent.run", kind=SpanKind.AGENT)
        llm = Span(name="llm.complete", kind=SpanKind.LLM, parent_id=root.span_id,
                   inputs={"prompt": "p"})
        tool = Span(name="tool.search", kind=SpanKind.TOOL, parent_id=root.span_id)
        trace.spans = [root, llm, tool]
        return trace, root, llm, tool

    def assert_once_each(self, daemon, trace: Trace) -> None:
        rec = wait_until(lambda: (lambda r: r if r and r["span_count"] == len(trace.spans)
                                  and r["complete"] else None)(daemon.trace(trace.trace_id)),
                         what="the settled trace")
        ids = [s["span_id"] for s in rec["spans"]]
        self.assertEqual(sorted(ids), sorted(s.span_id for s in trace.spans))
        # Every span reaches the exporter once, whether in the trace record or a follow-up.
        wait_until(lambda: set(span_ids_in_file(daemon, trace.trace_id)) ==
                   {s.span_id for s in trace.spans}, what="every span in the NDJSON file")
        counts = Counter(span_ids_in_file(daemon, trace.trace_id))
        self.assertEqual(set(counts.values()), {1}, counts)

    def test_spans_under_a_trace_context_are_visible_before_export_and_shown_once(self) -> None:
        daemon = self.start_daemon("--trace-linger", "60s")
        exporter = self.exporter(daemon.socket_path)
        runtime = SeedRuntime(TracingConfig(enabled=True, exporter=exporter))
        trace, root, llm, tool = self.make_trace()

        async def agent() -> None:
            with tracecol.trace_context(trace):
                await runtime.finish(llm, outputs={"text": "t"})
                await runtime.finish(tool)
        asyncio.run(agent())
        self.flush(exporter)
        live = daemon.trace(trace.trace_id)
        self.assertIsNotNone(live, "children visible while the agent still runs")
        self.assertEqual(sorted(s["span_id"] for s in live["spans"]),
                         sorted([llm.span_id, tool.span_id]))
        self.assertEqual(live["run_id"], "live-run")
        self.assertEqual(exporter.pending_spans, 0)

        async def finish() -> None:
            with tracecol.trace_context(trace):
                await runtime.finish(root, outputs={"ok": True})
            await runtime.end(trace)
        asyncio.run(finish())
        self.flush(exporter)
        self.assert_once_each(daemon, trace)
        self.assertEqual(len(daemon.records_of(trace.trace_id)), 1)

    def test_a_child_waits_for_its_parent_and_goes_live_when_the_parent_names_its_trace(self) -> None:
        daemon = self.start_daemon("--trace-linger", "60s")
        exporter = self.exporter(daemon.socket_path)
        trace, _, _, _ = self.make_trace()
        root = SpanWithTraceId(name="agent.run", kind=SpanKind.AGENT)
        root.trace_id = trace.trace_id  # type: ignore[attr-defined]
        child = Span(name="llm.complete", kind=SpanKind.LLM, parent_id=root.span_id)
        grandchild = Span(name="tool.fetch", kind=SpanKind.TOOL, parent_id=child.span_id)
        later = Span(name="tool.late", kind=SpanKind.TOOL, parent_id=root.span_id)
        trace.spans = [root, child, grandchild, later]
        for s in trace.spans:
            s.finish()

        async def agent() -> None:
            await exporter.export_span(grandchild)  # parent unknown yet: waits
            await exporter.export_span(child)       # parent unknown yet: waits
            self.assertEqual(exporter.pending_spans, 2)
            await exporter.export_span(root)        # names the trace: releases both
            self.assertEqual(exporter.pending_spans, 0)
            await exporter.export_span(later)       # parent already seen: goes at once
            self.assertEqual(exporter.pending_spans, 0)
        asyncio.run(agent())
        self.flush(exporter)
        live = daemon.trace(trace.trace_id)
        self.assertIsNotNone(live)
        self.assertEqual(live["span_count"], 4)
        self.assertFalse(any(s.get("orphan") for s in live["spans"]), live)
        asyncio.run(exporter.export(trace))
        self.flush(exporter)
        self.assert_once_each(daemon, trace)

    def test_spans_with_no_way_to_their_trace_wait_for_export_trace(self) -> None:
        daemon = self.start_daemon()
        exporter = self.exporter(daemon.socket_path)
        runtime = SeedRuntime(TracingConfig(enabled=True, exporter=exporter))
        trace, root, llm, tool = self.make_trace()

        async def agent() -> None:
            await runtime.finish(llm)
            await runtime.finish(tool)
            await runtime.finish(root)
        asyncio.run(agent())
        self.assertEqual(exporter.pending_spans, 3)
        self.flush(exporter)
        self.assertIsNone(daemon.trace(trace.trace_id))
        asyncio.run(runtime.end(trace))
        self.assertEqual(exporter.pending_spans, 0)
        self.flush(exporter)
        self.assert_once_each(daemon, trace)

    def test_a_trace_exported_by_linger_before_export_trace_arrives_shows_no_span_twice(self) -> None:
        # The root ends live, the daemon completes the trace after a short linger, and
        # only then does the agent's export(trace) repeat every span.
        daemon = self.start_daemon("--trace-linger", "50ms")
        exporter = self.exporter(daemon.socket_path)
        runtime = SeedRuntime(TracingConfig(enabled=True, exporter=exporter))
        trace, root, llm, tool = self.make_trace()

        async def agent() -> None:
            with tracecol.trace_context(trace.trace_id, run_id=trace.run_id):
                await runtime.finish(llm)
                await runtime.finish(tool)
                await runtime.finish(root)
        asyncio.run(agent())
        self.flush(exporter)
        wait_until(lambda: daemon.records_of(trace.trace_id), what="the lingered export")
        asyncio.run(runtime.end(trace))
        self.flush(exporter)
        self.assert_once_each(daemon, trace)


if __name__ == "__main__":
    unittest.main()
