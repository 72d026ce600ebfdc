"""The standalone API: @traced on sync and async functions records inputs and outputs,
nests through contextvars (across asyncio tasks too), records an exception's message and
re-raises it unchanged; Tracer/Span with finish(outputs=...)."""

from __future__ import annotations

import asyncio
import traceback
import unittest
from typing import Any, Dict, List

import tracecol
from tracecol import SpanKind
from daemon_fixture import DaemonTestCase, wait_until, without_peer


class Opaque:
    def __repr__(self) -> str:
        return "<Opaque thing>"


class TracedTest(DaemonTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.daemon = self.start_daemon("--trace-linger", "60s")
        self.tracer = tracecol.Tracer(self.exporter(self.daemon.socket_path), run_id="t-run")

    def settled(self, trace_id: str, count: int) -> Dict[str, Any]:
        self.assertTrue(self.tracer.flush(30))
        self.assertEqual(self.tracer.exporter.stats()["rejected"], 0)
        return wait_until(lambda: (lambda r: r if r and r["span_count"] == count and r["complete"]
                                   else None)(self.daemon.trace(trace_id)), what="the trace")

    def by_name(self, rec: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
        return {s["name"]: s for s in rec["spans"]}

    def test_sync_functions_nest_and_record_inputs_and_outputs(self) -> None:
        seen: List[tracecol.Span] = []

        @tracecol.traced("tool.add", SpanKind.TOOL, tracer=self.tracer)
        def add(a: int, b: int = 2) -> int:
            return a + b

        @tracecol.traced("agent.run", SpanKind.AGENT, tracer=self.tracer)
        def run(task: str, thing: Any) -> Dict[str, int]:
            seen.append(tracecol.context.current_span.get())
            return {"sum": add(1, b=5)}

        self.assertEqual(run("sum it", Opaque()), {"sum": 6})
        root = seen[0]
        rec = self.settled(root.trace_id, 2)
        spans = self.by_name(rec)
        self.assertEqual(rec["run_id"], "t-run")
        self.assertEqual(spans["agent.run"]["kind"], "AGENT")
        self.assertIsNone(spans["agent.run"]["parent_id"])
        self.assertEqual(spans["agent.run"]["inputs"], {"task": "sum it", "thing": "<Opaque thing>"})
        self.assertEqual(spans["agent.run"]["outputs"], {"sum": 6})
        self.assertEqual(spans["tool.add"]["kind"], "TOOL")
        self.assertEqual(spans["tool.add"]["parent_id"], root.span_id)
        self.assertEqual(spans["tool.add"]["inputs"], {"a": 1, "b": 5})
        self.assertEqual(spans["tool.add"]["outputs"], {"result": 6})
        self.assertIsNone(spans["tool.add"]["error"])

    def test_async_functions_nest_across_asyncio_tasks(self) -> None:
        @tracecol.traced("llm.complete", SpanKind.LLM, tracer=self.tracer)
        async def complete(prompt: str) -> str:
            await asyncio.sleep(0)
            return prompt.upper()

        @tracecol.traced(kind=SpanKind.AGENT, tracer=self.tracer)
        async def agent_run(n: int) -> List[str]:
            me = tracecol.context.current_span.get()
            results = await asyncio.gather(*(complete("p%d" % i) for i in range(n)))
            return [me.trace_id, me.span_id, *results]

        trace_id, root_id, *answers = asyncio.run(agent_run(3))
        self.assertEqual(answers, ["P0", "P1", "P2"])
        rec = self.settled(trace_id, 4)
        children = [s for s in rec["spans"] if s["name"] == "llm.complete"]
        self.assertEqual(len(children), 3)
        self.assertTrue(all(c["parent_id"] == root_id for c in children), children)
        self.assertEqual(sorted(c["inputs"]["prompt"] for c in children), ["p0", "p1", "p2"])
        root = [s for s in rec["spans"] if s["span_id"] == root_id][0]
        self.assertTrue(root["name"].endswith("agent_run"), root["name"])

    def test_a_sync_exception_is_recorded_and_re_raised_unchanged(self) -> None:
        boom = ValueError("boom: bad input")
        holder: List[tracecol.Span] = []

        @tracecol.traced("tool.fail", SpanKind.TOOL, tracer=self.tracer)
        def fail(x: int) -> None:
            holder.append(tracecol.context.current_span.get())
            raise boom

        try:
            fail(1)
        except ValueError as exc:
            caught = exc
        else:
            self.fail("fail() did not raise")
        self.assertIs(caught, boom)
        frames = [f.name for f in traceback.extract_tb(caught.__traceback__)]
        self.assertEqual(frames[-1], "fail", "the traceback still ends where it was raised")
        rec = self.settled(holder[0].trace_id, 1)
        span = rec["spans"][0]
        self.assertEqual(span["error"], "boom: bad input")
        self.assertEqual(span["metadata"]["error.type"], "ValueError")
        self.assertEqual(rec["error_count"], 1)

    def test_an_async_exception_is_recorded_and_re_raised_unchanged(self) -> None:
        class AgentError(RuntimeError):
            pass
        boom = AgentError("tool crashed")
        holder: List[tracecol.Span] = []

        @tracecol.traced("tool.fail", SpanKind.TOOL, tracer=self.tracer)
        async def fail() -> None:
            await asyncio.sleep(0)
            raise boom

        @tracecol.traced("agent.run", SpanKind.AGENT, tracer=self.tracer)
        async def run() -> None:
            holder.append(tracecol.context.current_span.get())
            try:
                await fail()
            except AgentError as exc:
                self.assertIs(exc, boom)
                raise

        with self.assertRaises(AgentError) as caught:
            asyncio.run(run())
        self.assertIs(caught.exception, boom)
        rec = self.settled(holder[0].trace_id, 2)
        spans = self.by_name(rec)
        self.assertEqual(spans["tool.fail"]["error"], "tool crashed")
        self.assertEqual(spans["agent.run"]["error"], "tool crashed")
        self.assertEqual(rec["error_count"], 2)

    def test_tracer_spans_and_trace_scope_with_finish_outputs(self) -> None:
        with self.tracer.trace(run_id="scoped") as scope:
            with self.tracer.span("agent.run", SpanKind.AGENT, inputs={"q": "x"}) as root:
                child = self.tracer.start_span("llm.complete", SpanKind.LLM,
                                               metadata={"model": "m"})
                child.finish(outputs={"text": "y"})
                child.finish(outputs={"text": "ignored"})  # once only
        rec = self.settled(scope.trace_id, 2)
        spans = self.by_name(rec)
        self.assertEqual(rec["run_id"], "scoped")
        self.assertEqual(spans["llm.complete"]["parent_id"], root.span_id)
        self.assertEqual(spans["llm.complete"]["outputs"], {"text": "y"})
        self.assertEqual(without_peer(spans["llm.complete"]["metadata"]), {"model": "m"})
        self.assertEqual(spans["agent.run"]["inputs"], {"q": "x"})
        self.assertGreater(root.duration_ms, 0)

    def test_disabled_and_unsampled_tracers_send_nothing_but_still_run_the_function(self) -> None:
        quiet = tracecol.Tracer(self.tracer.exporter, enabled=False)
        none_sampled = tracecol.Tracer(self.tracer.exporter, sample_rate=0.0)

        @tracecol.traced("q", tracer=quiet)
        def q() -> int:
            return 1

        @tracecol.traced("s", tracer=none_sampled)
        def s() -> int:
            return 2

        self.assertEqual(q() + s(), 3)
        self.assertTrue(self.tracer.flush(30))
        self.assertEqual(self.tracer.exporter.stats()["accepted"], 0)


class SamplingTest(DaemonTestCase):
    def test_a_trace_is_sampled_whole_and_as_the_daemon_decides(self) -> None:
        # The daemon samples the same rule: it exports exactly the traces the client keeps.
        daemon = self.start_daemon("--trace-linger", "60s", "--sample-rate", "0.5")
        keep_all = tracecol.Tracer(self.exporter(daemon.socket_path))
        half = tracecol.Tracer(self.exporter(daemon.socket_path), sample_rate=0.5)
        sent: List[str] = []
        for n in range(40):
            with half.trace(run_id="sampled-%d" % n) as scope:
                for name in ("a", "b", "c"):  # three root spans of one trace
                    with half.span(name):
                        pass
            with keep_all.trace(run_id="all-%d" % n) as whole:
                with keep_all.span("root"):
                    pass
            sent.append(whole.trace_id)
            if tracecol.sampled_in(scope.trace_id, 0.5):
                sent.append(scope.trace_id)
        self.assertTrue(half.flush(30))
        self.assertTrue(keep_all.flush(30))
        stored = wait_until(lambda: (lambda r: r if len(r) == len(sent) else None)(
            daemon.get("/api/traces?limit=1000")[1]["traces"]), what="every trace stored")
        by_id = {t["trace_id"]: t for t in stored}
        self.assertEqual(set(by_id), set(sent))
        for trace_id in sent:
            if by_id[trace_id]["run_id"].startswith("sampled-"):
                self.assertEqual(by_id[trace_id]["span_count"], 3)  # whole, never in part
        kept = [t for t in sent if by_id[t]["run_id"].startswith("sampled-")]
        self.assertTrue(0 < len(kept) < 40, "sample_rate 0.5 kept %d of 40" % len(kept))
        stop = daemon.stop()
        self.assertEqual(stop, 0)
        exported = {r["trace_id"] for r in daemon.records()}
        self.assertEqual(exported, {t for t in sent if tracecol.sampled_in(t, 0.5)})

    def test_the_rule_is_the_daemons(self) -> None:
        # Values from daemon/assembly/sampling.cpp's sampled_in() for rates 0.5, 0.1, 0.9.
        vectors = {"3a7f1c2b": (1, 1, 1), "00000000000000000000000000000001": (0, 0, 1),
                   "ffffffffffffffffffffffffffffffff": (1, 0, 1),
                   "0af7651916cd43dd8448eb211c80319c": (1, 0, 1),
                   "4bf92f3577b34da6a3ce929d0e0e4736": (1, 1, 1), "deadbeef": (0, 0, 1),
                   "abc": (0, 0, 0)}
        for trace_id, expected in vectors.items():
            got = tuple(int(tracecol.sampled_in(trace_id, r)) for r in (0.5, 0.1, 0.9))
            self.assertEqual(got, expected, trace_id)
        self.assertTrue(tracecol.sampled_in("not hex", 1.0))
        self.assertFalse(tracecol.sampled_in("not hex", 0.0))


if __name__ == "__main__":
    unittest.main()
