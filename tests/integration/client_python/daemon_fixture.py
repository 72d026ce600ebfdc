"""The real tracecol daemon for the Python client tests: started as a subprocess with its
socket and NDJSON file in a temp dir and its HTTP API on 127.0.0.1:0 (the port read from
its "http listening on ADDR" log line). Every wait is a condition polled to a deadline."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request
from typing import Any, Callable, Dict, List, Optional

#: Generous: the suite must pass on a loaded 2-core box under ASan.
DEADLINE = 30.0
_LISTEN_RE = re.compile(r"http listening on (\S+)")


def binary() -> str:
    path = os.environ.get("TRACECOL_BINARY")
    if not path:
        raise unittest.SkipTest("TRACECOL_BINARY is not set (run through ctest)")
    return path


def wait_until(pred: Callable[[], Any], timeout: float = DEADLINE, what: str = "condition") -> Any:
    """Polls pred with a short backoff until it returns something truthy; fails the test
    (AssertionError) when the deadline passes."""
    deadline = time.monotonic() + timeout
    delay = 0.002
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(delay)  # a poll interval, not a wait for an event
        delay = min(delay * 2, 0.05)


class TempDir:
    def __init__(self) -> None:
        self.path = tempfile.mkdtemp(prefix="tracecol-py-")

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def cleanup(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


class Daemon:
    """One tracecol process. stop() (or the test's cleanup) always ends it."""

    def __init__(self, tmp: TempDir, *args: str, socket_path: Optional[str] = None,
                 export_file: Optional[str] = None, name: str = "daemon") -> None:
        self.socket_path = socket_path or tmp.file("tracecol.sock")
        self.export_file = export_file or tmp.file("traces.ndjson")
        self.stderr_path = tmp.file(name + ".stderr")
        self.stdout_path = tmp.file(name + ".stdout")
        cmd = [binary(), "--socket", self.socket_path, "--http-listen", "127.0.0.1:0",
               "--export-file", self.export_file, *args]
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        self.http = ""
        try:
            self.http = wait_until(self._listen_address, what="the http listening line")
            wait_until(self._socket_ready, what="the agent socket")
        except BaseException:
            self.stop()
            raise

    def _listen_address(self) -> Optional[str]:
        if self.proc.poll() is not None:
            raise AssertionError("tracecol exited early:\n" + self.stderr())
        m = _LISTEN_RE.search(self.stderr())
        return m.group(1) if m else None

    def _socket_ready(self) -> bool:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(self.socket_path)
            return True
        except OSError:
            return False
        finally:
            s.close()

    def stderr(self) -> str:
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def sanitizer_report(self) -> str:
        text = self.stderr()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                       "ThreadSanitizer"):
            at = text.find(marker)
            if at >= 0:
                return text[at:at + 4000]
        return ""

    def stop(self) -> Optional[int]:
        """SIGTERM, then SIGKILL after the deadline; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(DEADLINE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    # ---- HTTP -------------------------------------------------------------------------

    def get(self, path: str) -> Any:
        """GET path -> (status, parsed JSON body or None)."""
        try:
            with urllib.request.urlopen("http://%s%s" % (self.http, path), timeout=DEADLINE) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            body = e.read()
            try:
                return e.code, json.loads(body)
            except ValueError:
                return e.code, None

    def trace(self, trace_id: str) -> Optional[Dict[str, Any]]:
        status, body = self.get("/api/traces/" + trace_id)
        return body if status == 200 else None

    # ---- the NDJSON export file -------------------------------------------------------

    def records(self) -> List[Dict[str, Any]]:
        try:
            with open(self.export_file, "rb") as f:
                data = f.read()
        except OSError:
            return []
        return [json.loads(line) for line in data.split(b"\n") if line.strip()]

    def records_of(self, trace_id: str) -> List[Dict[str, Any]]:
        return [r for r in self.records() if r.get("trace_id") == trace_id]


class DaemonTestCase(unittest.TestCase):
    """Gives each test a temp dir; every daemon it starts is stopped and checked for
    sanitizer reports at cleanup, every exporter closed."""

    def setUp(self) -> None:
        self.tmp = TempDir()
        self.addCleanup(self.tmp.cleanup)

    def start_daemon(self, *args: str, **kwargs: Any) -> Daemon:
        d = Daemon(self.tmp, *args, **kwargs)
        self.addCleanup(self._stop_and_check, d)
        return d

    def _stop_and_check(self, d: Daemon) -> None:
        d.stop()
        report = d.sanitizer_report()
        if report:
            self.fail("sanitizer report from tracecol:\n" + report)

    def exporter(self, path: str, **kwargs: Any) -> Any:
        import tracecol
        e = tracecol.SocketTraceExporter(path, **kwargs)
        self.addCleanup(e.close, 1.0)
        return e

    def flush(self, exporter: Any) -> None:
        self.assertTrue(exporter.flush(DEADLINE), "flush was not acknowledged: %r" % exporter.stats())


def full_hex(h: str, width: int) -> str:
    return h.lower().rjust(width, "0")


def without_peer(metadata: Dict[str, Any]) -> Dict[str, Any]:
    """A socket span's metadata less the daemon's "peer.pid" / "peer.uid" (docs/security.md),
    which must name this process: the exporters under test send from it."""
    rest = dict(metadata)
    assert rest.pop("peer.pid", None) == os.getpid(), metadata
    assert rest.pop("peer.uid", None) == os.getuid(), metadata
    return rest


def epoch_of_monotonic(t: float) -> float:
    return t + (time.time() - time.monotonic())
