"""client/python/examples/agent.py (used by the docker-compose demo) produces complete
traces in the daemon and exits 0 once they are acknowledged."""

from __future__ import annotations

import os
import subprocess
import sys
import unittest

from daemon_fixture import DEADLINE, DaemonTestCase, wait_until

EXAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                       "client", "python", "examples", "agent.py")


class ExampleAgentTest(DaemonTestCase):
    def test_the_example_agent_sends_complete_traces(self) -> None:
        daemon = self.start_daemon("--trace-linger", "60s")
        out = subprocess.run([sys.executable, EXAMPLE, "--socket", daemon.socket_path,
                              "--traces", "4", "--run-id", "example-run", "--seed", "7",
                              "--fail-rate", "0.5"],
                             capture_output=True, timeout=DEADLINE)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn(b"flushed", out.stdout)
        records = wait_until(lambda: (lambda r: r if len(r) == 4 else None)(
            [r for r in daemon.records() if r["run_id"] == "example-run"]),
            what="4 traces in the NDJSON file")
        for rec in records:
            self.assertTrue(rec["complete"], rec)
            self.assertEqual(rec["spans"][0]["name"], "agent.run")
            self.assertEqual(rec["spans"][0]["kind"], "AGENT")
            self.assertFalse(any(s.get("orphan") for s in rec["spans"]))
            kinds = {s["kind"] for s in rec["spans"]}
            self.assertTrue({"AGENT", "CHAIN", "LLM", "TOOL"} <= kinds, kinds)
        self.assertTrue(any(r["error_count"] > 0 for r in records), "some tool calls failed")
        status, body = daemon.get("/api/runs/example-run")
        self.assertEqual(status, 200)


if __name__ == "__main__":
    unittest.main()
