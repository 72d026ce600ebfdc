"""SocketTraceExporter: the seed's TraceExporter protocol over tracecol's Unix socket."""

from __future__ import annotations

import asyncio
import collections
import os
import secrets
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

from . import _encode
from ._transport import Transport
from .context import current_trace

DEFAULT_SOCKET = "/tmp/tracecol.sock"
CLIENT_NAME = "tracecol-python/0.1"


def default_socket_path() -> str:
    return os.environ.get("TRACECOL_SOCKET") or DEFAULT_SOCKET


class SocketTraceExporter:
    """Sends finished spans and traces to the tracecol daemon; never blocks, never raises.

    `export_span(span)` sends one finished span at once when it can learn its trace: a
    `trace_id` attribute (or metadata key), the trace context the agent set
    (`tracecol.trace_context(trace)`), or a parent span it has already seen. Otherwise
    the span waits (bounded) until its parent's trace is learned or `export(trace)`
    arrives, which sends the whole trace and settles the rest; the daemon keeps a span
    once however often it arrives. Thread-safe; usable from any event loop.
    """

    def __init__(self, path: Optional[str] = None, *, service: Optional[str] = None,
                 include_inputs: bool = True, include_outputs: bool = True,
                 max_queue: int = 10000, max_queue_bytes: int = 32 << 20,
                 max_line_bytes: int = _encode.DEFAULT_MAX_LINE_BYTES,
                 max_pending_spans: int = 10000, pending_ttl: float = 600.0,
                 remember_spans: int = 100000, **transport_options: Any) -> None:
        self.path = path or default_socket_path()
        self.include_inputs = include_inputs
        self.include_outputs = include_outputs
        self.max_line_bytes = max_line_bytes
        self.max_pending_spans = max(0, int(max_pending_spans))
        self.pending_ttl = pending_ttl
        self.remember_spans = max(16, int(remember_spans))
        hello: Dict[str, Any] = {"type": "hello", "version": 1, "client": CLIENT_NAME}
        if service is not None:
            hello["service"] = str(service)
        self._transport = Transport(self.path, max_queue=max_queue,
                                    max_queue_bytes=max_queue_bytes,
                                    hello=_encode.dumps_line(hello), **transport_options)
        self._lock = threading.Lock()
        # span_id -> (trace_id, run_id) of spans already placed in a trace
        self._seen: Dict[str, Tuple[str, Optional[str]]] = {}
        # span_id -> (parent_id, fields, monotonic time queued): spans waiting for a trace
        self._pending: "collections.OrderedDict[str, Tuple[Optional[str], Dict[str, Any], float]]" = (
            collections.OrderedDict())
        self._children: Dict[str, List[str]] = {}
        self._last_pair: Optional[Tuple[str, Optional[str]]] = None
        self.unresolved_dropped = 0
        self.internal_errors = 0

    # ---- the seed's TraceExporter protocol ----------------------------------------------

    async def export(self, trace: Any) -> None:
        """Sends a whole trace (the seed's Trace, or a dict with trace_id, run_id, spans)."""
        self.export_trace_nowait(trace)

    async def export_span(self, span: Any) -> None:
        """Sends one finished span (the seed's Span, or a dict with the same keys)."""
        self.export_span_nowait(span)

    # ---- the same, callable from synchronous code --------------------------------------

    def export_span_nowait(self, span: Any) -> bool:
        try:
            fields, tid, run = _encode.span_record(span, self.include_inputs,
                                                   self.include_outputs)
            ctx = None
            if tid is None:
                ctx = current_trace.get()
                if ctx is not None:
                    tid = ctx.trace_id
                    if run is None:
                        run = ctx.run_id
            sid = fields["span_id"]
            if sid is None:
                fields["span_id"] = sid = secrets.token_hex(8)
            parent = fields.get("parent_id")
            with self._lock:
                if tid is None and parent is not None:
                    known = self._seen.get(parent)
                    if known is not None:
                        tid = known[0]
                        if run is None:
                            run = known[1]
                if tid is None:
                    self._hold(sid, parent, fields)
                    return False
                seen = self._seen
                seen[sid] = ctx if ctx is not None and ctx.run_id == run else self._pair(tid, run)
                if len(seen) > self.remember_spans:
                    self._evict_seen()
                ready = self._release(sid, tid, run) if self._children else None
            line = _encode.span_line(fields, tid, run, self.max_line_bytes)
            ok = line is not None and self._transport.send(line)
            if ready:
                self._send_released(ready)
            return ok
        except Exception:  # noqa: BLE001 - never raise into the agent
            self.internal_errors += 1
            return False

    def export_trace_nowait(self, trace: Any) -> bool:
        try:
            tid, run = _encode.trace_identity(trace)
            spans = _encode._get(trace, "spans") or []
            if not isinstance(spans, (list, tuple)):
                spans = list(spans)
            records = [_encode.span_record(s, self.include_inputs, self.include_outputs)[0]
                       for s in spans]
            if tid is None:
                # No trace_id: take the one the spans were already sent with, or a new one.
                with self._lock:
                    for rec in records:
                        known = self._seen.get(rec["span_id"]) if rec["span_id"] else None
                        if known is not None:
                            tid = known[0]
                            break
                if tid is None:
                    ctx = current_trace.get()
                    tid = ctx.trace_id if ctx is not None else secrets.token_hex(16)
            for rec in records:
                if rec["span_id"] is None:
                    rec["span_id"] = secrets.token_hex(8)
            ready: List[Tuple[str, str, Optional[str], Dict[str, Any]]] = []
            with self._lock:
                for rec in records:
                    self._pending.pop(rec["span_id"], None)
                for rec in records:
                    ready.extend(self._place(rec["span_id"], tid, run))
            lines = _encode.trace_lines(tid, run, records, self.max_line_bytes)
            sent = self._transport.send_many(lines)
            if ready:
                self._send_released(ready)
            return sent == len(lines)
        except Exception:  # noqa: BLE001
            self.internal_errors += 1
            return False

    # ---- span bookkeeping (callers hold self._lock) ------------------------------------

    def _pair(self, tid: str, run: Optional[str]) -> Tuple[str, Optional[str]]:
        # One shared tuple per trace, not one per span (less for the GC to track).
        last = self._last_pair
        if last is None or last[0] != tid or last[1] != run:
            last = self._last_pair = (tid, run)
        return last

    def _evict_seen(self) -> None:
        seen = self._seen
        for _ in range(len(seen) - self.remember_spans):
            seen.pop(next(iter(seen)))

    def _remember(self, sid: str, tid: str, run: Optional[str]) -> None:
        self._seen[sid] = self._pair(tid, run)
        if len(self._seen) > self.remember_spans:
            self._evict_seen()

    def _place(self, sid: str, tid: str, run: Optional[str]
               ) -> List[Tuple[str, str, Optional[str], Dict[str, Any]]]:
        """Records sid in trace tid; returns the waiting descendants that now can go."""
        self._remember(sid, tid, run)
        return self._release(sid, tid, run) if self._children else []

    def _release(self, sid: str, tid: str, run: Optional[str]
                 ) -> List[Tuple[str, str, Optional[str], Dict[str, Any]]]:
        ready = []
        stack = [sid]
        while stack:
            for child in self._children.pop(stack.pop(), ()):
                entry = self._pending.pop(child, None)
                if entry is None:
                    continue
                self._remember(child, tid, run)
                ready.append((child, tid, run, entry[1]))
                stack.append(child)
        return ready

    def _hold(self, sid: str, parent: Optional[str], fields: Dict[str, Any]) -> None:
        now = time.monotonic()
        pending = self._pending
        if sid in pending:
            pending.pop(sid)
        pending[sid] = (parent, fields, now)
        if parent is not None:
            self._children.setdefault(parent, []).append(sid)
        while pending:
            oldest_sid, oldest = next(iter(pending.items()))
            if len(pending) <= self.max_pending_spans and now - oldest[2] <= self.pending_ttl:
                break
            pending.popitem(last=False)
            self.unresolved_dropped += 1
            if oldest[0] is not None:
                siblings = self._children.get(oldest[0])
                if siblings is not None:
                    try:
                        siblings.remove(oldest_sid)
                    except ValueError:
                        pass
                    if not siblings:
                        del self._children[oldest[0]]

    def _send_released(self, ready: List[Tuple[str, str, Optional[str], Dict[str, Any]]]) -> None:
        lines = []
        for _sid, tid, run, fields in ready:
            line = _encode.span_line(fields, tid, run, self.max_line_bytes)
            if line is not None:
                lines.append(line)
        if lines:
            self._transport.send_many(lines)

    # ---- control -----------------------------------------------------------------------

    def send_trace_end(self, trace_id: Any, run_id: Optional[str] = None) -> bool:
        """Tells the daemon a trace is done (the standalone Tracer's root spans use it)."""
        try:
            tid = _encode.trace_id_hex(trace_id)
            if tid is None:
                return False
            rec: Dict[str, Any] = {"type": "trace_end", "trace_id": tid}
            if run_id is not None:
                rec["run_id"] = run_id
            line = _encode.dumps_line(rec)
            return line is not None and self._transport.send(line)
        except Exception:  # noqa: BLE001
            self.internal_errors += 1
            return False

    def flush(self, timeout: float = 5.0) -> bool:
        """Blocks until the daemon applied everything sent so far (True), or timeout (False)."""
        return self._transport.flush(timeout)

    async def aflush(self, timeout: float = 5.0) -> bool:
        """flush() without blocking the event loop."""
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(None, self._transport.flush, timeout)
        except Exception:  # noqa: BLE001
            return False

    def close(self, timeout: float = 2.0) -> bool:
        """Flushes (bounded by timeout) and stops the background threads."""
        try:
            return self._transport.close(timeout)
        except Exception:  # noqa: BLE001
            return False

    async def shutdown(self) -> None:
        try:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, self.close)
        except Exception:  # noqa: BLE001
            pass

    @property
    def dropped(self) -> int:
        """Lines dropped because the queue was full (the daemon away or too slow)."""
        return self._transport.dropped

    @property
    def pending_spans(self) -> int:
        """Spans exported whose trace is not known yet (waiting for export(trace))."""
        return len(self._pending)

    def stats(self) -> Dict[str, Any]:
        out = self._transport.stats()
        out["pending_spans"] = len(self._pending)
        out["unresolved_dropped"] = self.unresolved_dropped
        out["internal_errors"] = self.internal_errors
        return out
