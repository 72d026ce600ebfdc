"""The current trace and span, as contextvars (so they follow asyncio tasks and threads
started with contextvars.copy_context())."""

from __future__ import annotations

import contextlib
import contextvars
from typing import Any, Iterator, NamedTuple, Optional

from ._encode import trace_id_hex, trace_identity


class TraceContext(NamedTuple):
    trace_id: str
    run_id: Optional[str]


current_trace: "contextvars.ContextVar[Optional[TraceContext]]" = contextvars.ContextVar(
    "tracecol_current_trace", default=None)
current_span: "contextvars.ContextVar[Any]" = contextvars.ContextVar(
    "tracecol_current_span", default=None)


def set_trace_context(trace: Any = None, run_id: Optional[str] = None,
                      *, trace_id: Any = None) -> "contextvars.Token[Optional[TraceContext]]":
    """Names the trace the spans finished from here on belong to, for export_span.

    `trace` is a seed Trace object (its trace_id and run_id are read), a dict, or a trace
    id. Returns a token for reset_trace_context(). Never raises.
    """
    tid: Optional[str] = None
    run = run_id
    try:
        if trace_id is not None:
            tid = trace_id_hex(trace_id)
        elif isinstance(trace, (str, int)) or trace is None:
            tid = trace_id_hex(trace)
        else:
            tid, own_run = trace_identity(trace)
            if run is None:
                run = own_run
    except Exception:  # noqa: BLE001
        tid = None
    return current_trace.set(TraceContext(tid, run) if tid else None)


def reset_trace_context(token: "contextvars.Token[Optional[TraceContext]]") -> None:
    try:
        current_trace.reset(token)
    except (ValueError, RuntimeError):
        pass  # a token from another context: nothing to undo here


@contextlib.contextmanager
def trace_context(trace: Any = None, run_id: Optional[str] = None,
                  *, trace_id: Any = None) -> Iterator[Optional[TraceContext]]:
    """`with tracecol.trace_context(trace):` — spans exported inside go to that trace live."""
    token = set_trace_context(trace, run_id, trace_id=trace_id)
    try:
        yield current_trace.get()
    finally:
        reset_trace_context(token)
