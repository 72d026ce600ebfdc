"""The background sender: a bounded queue drained by one daemon thread into a Unix socket.

The agent's thread only appends a ready line to a deque under a lock (and wakes the
writer when it sleeps). The writer batches whatever is queued into large sendall()s,
reconnects with backoff when the daemon is away or restarts, and re-sends the batch a
failed send may have cut (the daemon keeps a span once however often it arrives). A
reader thread per connection collects the daemon's `flushed` answers for flush().
Nothing here ever raises into the caller.
"""

from __future__ import annotations

import atexit
import collections
import json
import os
import random
import socket
import threading
import weakref
from typing import Any, Deque, Dict, List, Optional, Union

_LIVE: "weakref.WeakSet[Transport]" = weakref.WeakSet()


class _Flush:
    __slots__ = ("fid",)

    def __init__(self, fid: int) -> None:
        self.fid = fid


def _flush_line(fid: int) -> bytes:
    return b'{"type":"flush","id":%d}\n' % fid


class Transport:
    """Thread-safe; every public method returns instead of raising."""

    def __init__(self, path: str, *, max_queue: int = 10000,
                 max_queue_bytes: int = 32 << 20, batch_bytes: int = 256 << 10,
                 connect_timeout: float = 1.0, send_timeout: float = 5.0,
                 backoff_initial: float = 0.05, backoff_max: float = 2.0,
                 hello: Optional[bytes] = None) -> None:
        self.path = path
        self.max_queue = max(1, int(max_queue))
        self.max_queue_bytes = max(1, int(max_queue_bytes))
        self.batch_bytes = max(4096, int(batch_bytes))
        self.connect_timeout = connect_timeout
        self.send_timeout = send_timeout
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.hello = hello
        self._init_state()
        _LIVE.add(self)

    def _init_state(self) -> None:
        self._lock = threading.Lock()
        self._cond = threading.Condition(threading.Lock())  # flush acknowledgements
        self._q: Deque[Union[bytes, _Flush]] = collections.deque()
        self._qbytes = 0
        self._wake = threading.Event()
        self._kick = threading.Event()  # cut a reconnect backoff short
        self._stop = False
        self._idle = False
        self._thread: Optional[threading.Thread] = None
        self._sock: Optional[socket.socket] = None
        self._retry: List[bytes] = []
        self._inline_read = False
        self._inflight = 0
        self._next_flush = 0
        self._outstanding: List[int] = []
        self._acked = 0
        self._conn_failures = 0
        self.dropped = 0
        self.sent_lines = 0
        self.sent_batches = 0
        self.connects = 0
        self.connected = False
        self.accepted = 0
        self.rejected = 0
        self.last_error: Optional[str] = None
        self._conn_accepted = 0
        self._conn_rejected = 0

    # ---- producer side (agent threads) ---------------------------------------------

    def send(self, line: bytes) -> bool:
        """Queues one newline-terminated line; False (and counted) when the queue is full."""
        with self._lock:
            if len(self._q) >= self.max_queue or self._qbytes + len(line) > self.max_queue_bytes:
                self.dropped += 1
                return False
            self._q.append(line)
            self._qbytes += len(line)
        if self._idle or self._thread is None:
            self._wake_writer()
        return True

    def send_many(self, lines: List[bytes]) -> int:
        sent = 0
        with self._lock:
            for line in lines:
                if len(self._q) >= self.max_queue or self._qbytes + len(line) > self.max_queue_bytes:
                    self.dropped += 1
                    continue
                self._q.append(line)
                self._qbytes += len(line)
                sent += 1
        self._wake_writer()
        return sent

    def _wake_writer(self) -> None:
        try:
            if self._thread is None:
                self._start()
            self._idle = False
            self._wake.set()
        except Exception:  # noqa: BLE001 - e.g. no threads at interpreter shutdown
            pass

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None or self._stop:
                return
            t = threading.Thread(target=self._run, name="tracecol-writer", daemon=True)
            self._thread = t
        t.start()

    def pending(self) -> int:
        return len(self._q) + len(self._retry) + self._inflight

    def flush(self, timeout: float = 5.0, give_up_when_down: bool = False) -> bool:
        """Waits until every line queued before this call was applied by the daemon
        (its `flushed` answer), at most `timeout` seconds. With give_up_when_down it also
        returns False as soon as one fresh connection attempt fails."""
        try:
            with self._lock:
                if self._stop:
                    return False
                self._next_flush += 1
                fid = self._next_flush
                self._q.append(_Flush(fid))
                failures = self._conn_failures
            self._kick.set()
            self._wake_writer()
            with self._cond:
                return self._cond.wait_for(
                    lambda: self._acked >= fid
                    or (give_up_when_down and self._conn_failures > failures)
                    or self._stop, timeout) and self._acked >= fid
        except Exception:  # noqa: BLE001
            return False

    def close(self, timeout: float = 2.0) -> bool:
        ok = True
        if self._thread is not None and self.pending():
            ok = self.flush(timeout, give_up_when_down=True)
        with self._lock:
            self._stop = True
        self._kick.set()
        self._wake.set()
        with self._cond:
            self._cond.notify_all()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout)
        self._disconnect()
        return ok

    def stats(self) -> Dict[str, Any]:
        return {"queued": self.pending(), "dropped": self.dropped, "sent_lines": self.sent_lines,
                "sent_batches": self.sent_batches, "connects": self.connects,
                "connected": self.connected, "accepted": self.accepted,
                "rejected": self.rejected, "last_error": self.last_error}

    # ---- writer thread ---------------------------------------------------------------

    def _take_batch(self) -> List[bytes]:
        batch: List[bytes] = []
        size = 0
        with self._lock:
            q = self._q
            if len(self._outstanding) > 32:
                self._outstanding = [f for f in self._outstanding if f > self._acked]
            while q and size < self.batch_bytes:
                item = q.popleft()
                if type(item) is _Flush:
                    self._outstanding.append(item.fid)
                    line = _flush_line(item.fid)
                else:
                    line = item  # type: ignore[assignment]
                    self._qbytes -= len(line)
                batch.append(line)
                size += len(line)
        return batch

    def _run(self) -> None:
        backoff = self.backoff_initial
        while not self._stop:
            try:
                batch = self._retry or self._take_batch()
                self._retry = []
                self._inflight = len(batch)
                if not batch:
                    self._wake.clear()
                    self._idle = True
                    if self._q or self._stop:
                        self._idle = False
                        continue
                    self._wake.wait(1.0)
                    self._idle = False
                    continue
                if self._sock is None and not self._connect():
                    self._retry = batch
                    self._inflight = 0
                    self._kick.clear()
                    self._kick.wait(backoff * random.uniform(0.8, 1.2))
                    backoff = min(backoff * 2, self.backoff_max)
                    continue
                backoff = self.backoff_initial
                sock = self._sock
                try:
                    sock.sendall(b"".join(batch))  # type: ignore[union-attr]
                except OSError:
                    self._retry = batch
                    self._inflight = 0
                    self._disconnect()
                    continue
                self._inflight = 0
                self.sent_lines += len(batch)
                self.sent_batches += 1
                if self._inline_read:
                    self._read_answers_inline(sock)
            except Exception:  # noqa: BLE001 - the writer must survive anything
                self._disconnect()
        self._disconnect()

    def _connect(self) -> bool:
        sock = None
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.connect_timeout)
            sock.connect(self.path)
            sock.settimeout(self.send_timeout)
            first = self.hello or b""
            with self._lock:
                # Flushes sent on a dead connection are asked again on this one.
                again = b"".join(_flush_line(fid) for fid in self._outstanding
                                 if fid > self._acked)
            if first:
                sock.sendall(first)
            reader = threading.Thread(target=self._read, args=(sock,),
                                      name="tracecol-reader", daemon=True)
            self._sock = sock
            self._conn_accepted = 0
            self._conn_rejected = 0
            self.connected = True
            self.connects += 1
            try:
                reader.start()
                self._inline_read = False
            except RuntimeError:
                # No new threads at interpreter shutdown (3.12+): the writer reads the
                # flush answers itself, so the atexit flush still gets its acknowledgement.
                self._inline_read = True
            if again:
                self._retry = self._retry + [again] if self._retry else [again]
            return True
        except Exception:  # noqa: BLE001
            if sock is not None:
                try:
                    sock.close()
                except OSError:
                    pass
            self._sock = None
            with self._cond:
                self._conn_failures += 1
                self._cond.notify_all()
            return False

    def _disconnect(self) -> None:
        sock, self._sock = self._sock, None
        self.connected = False
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                sock.close()
            except OSError:
                pass

    def _read_answers_inline(self, sock: Any) -> None:
        buf = b""
        while self._outstanding and max(self._outstanding) > self._acked:
            try:
                data = sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                self._on_answer(line)

    # ---- reader thread (one per connection) ------------------------------------------

    def _read(self, sock: socket.socket) -> None:
        buf = b""
        try:
            while not self._stop:
                try:
                    data = sock.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    break
                if not data:
                    break
                buf += data
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    self._on_answer(line)
        finally:
            # The daemon went away: make the writer reconnect before its next send.
            if self._sock is sock:
                self.connected = False
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _on_answer(self, line: bytes) -> None:
        try:
            msg = json.loads(line)
        except ValueError:
            return
        if not isinstance(msg, dict) or msg.get("type") != "flushed":
            return
        with self._cond:
            accepted = msg.get("accepted")
            rejected = msg.get("rejected")
            if isinstance(accepted, int) and accepted >= self._conn_accepted:
                self.accepted += accepted - self._conn_accepted
                self._conn_accepted = accepted
            if isinstance(rejected, int) and rejected >= self._conn_rejected:
                self.rejected += rejected - self._conn_rejected
                self._conn_rejected = rejected
            if msg.get("last_error") is not None:
                self.last_error = str(msg.get("last_error"))
            fid = msg.get("id")
            if isinstance(fid, int) and fid > self._acked:
                self._acked = fid
            self._cond.notify_all()


def _flush_all_at_exit() -> None:
    timeout = 2.0
    try:
        timeout = float(os.environ.get("TRACECOL_EXIT_TIMEOUT", "2"))
    except ValueError:
        pass
    for transport in list(_LIVE):
        try:
            if transport._thread is not None and transport.pending():
                transport.flush(timeout, give_up_when_down=True)
        except Exception:  # noqa: BLE001
            pass


def _after_fork_in_child() -> None:
    # Threads do not survive fork(): the child starts afresh (the parent sends its own queue).
    for transport in list(_LIVE):
        try:
            transport._init_state()
        except Exception:  # noqa: BLE001
            pass


atexit.register(_flush_all_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
