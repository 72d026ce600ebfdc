"""One exporter shared by many threads and many asyncio tasks: every span arrives once,
nothing is dropped or rejected, and a trace too big for one line still arrives whole."""

from __future__ import annotations

import asyncio
import threading
import unittest

import tracecol
from daemon_fixture import DaemonTestCase, wait_until
from seed_model import Span, SpanKind, Trace


class ConcurrencyTest(DaemonTestCase):
    def test_many_threads_share_one_exporter(self) -> None:
        daemon = self.start_daemon("--trace-linger", "60s")
        exporter = self.exporter(daemon.socket_path)
        traces = [Trace(run_id="threads") for _ in range(8)]
        errors = []

        def agent(trace: Trace) -> None:
            try:
                with tracecol.trace_context(trace):
                    for i in range(500):
                        s = Span(name="step.%d" % i, kind=SpanKind.CHAIN, inputs={"i": i})
                        s.finish()
                        exporter.export_span_nowait(s)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=agent, args=(t,)) for t in traces]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.flush(exporter)
        st = exporter.stats()
        self.assertEqual((st["accepted"], st["rejected"], st["dropped"]), (4000, 0, 0), st)
        for trace in traces:
            rec = wait_until(lambda: daemon.trace(trace.trace_id), what="each thread's trace")
            self.assertEqual(rec["span_count"], 500)
        self.assertLess(st["sent_batches"], 4000, "lines were batched into fewer writes")

    def test_many_asyncio_tasks_each_in_their_own_trace_context(self) -> None:
        daemon = self.start_daemon("--trace-linger", "60s")
        exporter = self.exporter(daemon.socket_path)
        traces = [Trace(run_id="tasks-%d" % i) for i in range(20)]

        async def agent(trace: Trace) -> None:
            tracecol.set_trace_context(trace)  # this task's context only
            for i in range(25):
                s = Span(name="llm.%d" % i, kind=SpanKind.LLM)
                await asyncio.sleep(0)
                s.finish()
                await exporter.export_span(s)

        async def main() -> None:
            await asyncio.gather(*(agent(t) for t in traces))
        asyncio.run(main())
        self.flush(exporter)
        for trace in traces:
            rec = wait_until(lambda: daemon.trace(trace.trace_id), what="each task's trace")
            self.assertEqual(rec["span_count"], 25)
            self.assertEqual(rec["run_id"], trace.run_id)

    def test_a_trace_too_big_for_one_line_arrives_as_span_lines(self) -> None:
        daemon = self.start_daemon("--trace-linger", "60s")
        exporter = self.exporter(daemon.socket_path)
        trace = Trace(run_id="big")
        root = Span(name="agent.run", kind=SpanKind.AGENT)
        trace.spans = [root] + [Span(name="tool.%d" % i, kind=SpanKind.TOOL, parent_id=root.span_id,
                                     inputs={"blob": "%d" % i * 60000}) for i in range(30)]
        for s in reversed(trace.spans):
            s.finish()
        asyncio.run(exporter.export(trace))
        self.flush(exporter)
        self.assertEqual(exporter.stats()["rejected"], 0)
        self.assertGreater(exporter.stats()["accepted"], 30, "sent as span lines + trace_end")
        rec = wait_until(lambda: (lambda r: r if r and r["complete"] else None)(
            daemon.trace(trace.trace_id)), what="the big trace, complete")
        self.assertEqual(rec["span_count"], 31)
        want = {s.name: s.inputs for s in trace.spans}
        for span in rec["spans"]:
            self.assertEqual(span["inputs"], want[span["name"]], "no string was cut")

if __name__ == "__main__":
    unittest.main()
