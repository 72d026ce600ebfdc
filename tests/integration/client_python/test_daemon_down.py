"""The daemon away: nothing raises into the agent, a full queue drops and counts, and the
exporter reconnects and delivers what it kept when the daemon comes (back) up."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import unittest

import tracecol
from daemon_fixture import DEADLINE, DaemonTestCase, wait_until
from seed_model import Span, SpanKind, Trace


def spans_for(trace_id: str, n: int, prefix: str):
    out = []
    for i in range(n):
        s = Span(name="%s.%d" % (prefix, i), kind=SpanKind.TOOL, inputs={"i": i})
        s.finish(outputs={"ok": True})
        s.trace_id = trace_id  # type: ignore[attr-defined]
        out.append(s)
    return out


class DaemonDownTest(DaemonTestCase):
    def test_no_daemon_nothing_raises_drops_are_counted_and_kept_lines_arrive_later(self) -> None:
        sock = self.tmp.file("later.sock")
        exporter = self.exporter(sock, max_queue=50, backoff_max=0.1)
        trace = Trace(run_id="down-run")
        spans = spans_for(trace.trace_id, 200, "tool")

        async def agent() -> None:
            for s in spans:
                await exporter.export_span(s)
        asyncio.run(agent())  # would raise here if anything leaked out
        self.assertFalse(exporter.flush(0.2), "no daemon: flush cannot be acknowledged")
        dropped = exporter.dropped
        self.assertGreaterEqual(dropped, 100)
        self.assertLess(dropped, 200)
        self.assertEqual(exporter.stats()["connected"], False)

        daemon = self.start_daemon("--trace-linger", "60s", socket_path=sock)
        self.flush(exporter)  # reconnects by itself within the backoff
        kept = 200 - dropped
        rec = wait_until(lambda: daemon.trace(trace.trace_id), what="the kept spans")
        self.assertEqual(rec["span_count"], kept)
        self.assertEqual(exporter.stats()["accepted"], kept)
        self.assertEqual(exporter.stats()["rejected"], 0)

    def test_a_restarted_daemon_gets_the_spans_sent_after_the_restart(self) -> None:
        sock = self.tmp.file("restart.sock")
        first = self.start_daemon("--trace-linger", "60s", socket_path=sock, name="first",
                                  export_file=self.tmp.file("first.ndjson"))
        exporter = self.exporter(sock, backoff_max=0.1)
        trace = Trace(run_id="restart-run")
        for s in spans_for(trace.trace_id, 5, "before"):
            exporter.export_span_nowait(s)
        self.flush(exporter)
        self.assertEqual(first.trace(trace.trace_id)["span_count"], 5)
        self.assertEqual(first.stop(), 0)
        wait_until(lambda: not exporter.stats()["connected"], what="the client to see the EOF")

        after = spans_for(trace.trace_id, 7, "after")
        for s in after:
            exporter.export_span_nowait(s)
        self.assertEqual(exporter.dropped, 0)
        second = self.start_daemon("--trace-linger", "60s", socket_path=sock, name="second",
                                   export_file=self.tmp.file("second.ndjson"))
        self.flush(exporter)
        rec = wait_until(lambda: second.trace(trace.trace_id), what="spans in the new daemon")
        self.assertEqual(sorted(s["span_id"] for s in rec["spans"]),
                         sorted(s.span_id for s in after))
        self.assertEqual(exporter.stats()["connects"], 2)

    def test_a_process_exits_promptly_when_the_daemon_is_down(self) -> None:
        # The atexit flush is bounded and gives up at the first failed reconnect.
        code = ("import tracecol\n"
                "e = tracecol.SocketTraceExporter(%r)\n"
                "for i in range(100):\n"
                "    e.export_span_nowait({'trace_id': 'ab', 'span_id': '%%x' %% (i + 1),\n"
                "                          'name': 'n', 'started_at': 1.0, 'ended_at': 2.0})\n"
                "print(e.dropped)\n") % self.tmp.file("nobody.sock")
        # An hour of exit timeout: only giving up at the failed connect ends it in time.
        env = dict(os.environ, TRACECOL_EXIT_TIMEOUT="3600")
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             timeout=DEADLINE, check=True)
        self.assertEqual(out.stdout.strip(), b"0")
        self.assertEqual(out.stderr, b"")

    def test_a_process_exit_flushes_what_it_queued(self) -> None:
        daemon = self.start_daemon("--trace-linger", "60s")
        code = ("import tracecol\n"
                "e = tracecol.SocketTraceExporter()\n"
                "for i in range(300):\n"
                "    e.export_span_nowait({'trace_id': 'beef', 'span_id': '%x' % (i + 1),\n"
                "                          'name': 'n', 'started_at': 1.0, 'ended_at': 2.0})\n")
        env = dict(os.environ, TRACECOL_SOCKET=daemon.socket_path)
        subprocess.run([sys.executable, "-c", code], env=env, timeout=DEADLINE, check=True)
        tid = "beef".rjust(32, "0")
        wait_until(lambda: (daemon.trace(tid) or {}).get("span_count") == 300,
                   what="all 300 spans after the process exited")


if __name__ == "__main__":
    unittest.main()
