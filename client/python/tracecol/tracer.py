"""A small standalone tracing API for agents without the seed's library: Tracer, Span,
SpanKind and the @traced decorator, shaped like the seed's (names are the seed's)."""

from __future__ import annotations

import enum
import functools
import inspect
import random
import re
import threading
import time
from typing import Any, Callable, Dict, Optional, Tuple, TypeVar

from .context import TraceContext, current_span, current_trace, reset_trace_context, \
    set_trace_context
from .exporter import SocketTraceExporter

F = TypeVar("F", bound=Callable[..., Any])


class SpanKind(str, enum.Enum):
    AGENT = "AGENT"
    TOOL = "TOOL"
    LLM = "LLM"
    CHAIN = "CHAIN"
    CUSTOM = "CUSTOM"
    TEAM = "TEAM"


_MASK64 = (1 << 64) - 1
_HEX_ID = re.compile(r"[0-9a-fA-F]{1,32}")


def sampled_in(trace_id: str, sample_rate: float) -> bool:
    """The daemon's --sample-rate rule (daemon/assembly/sampling.cpp), decided from the
    trace id alone: every span of a trace, every process and the daemon agree on it. An
    id that is not 1..32 hex digits falls back to a coin toss."""
    if sample_rate >= 1.0:
        return True
    if sample_rate <= 0.0:
        return False
    if not isinstance(trace_id, str) or _HEX_ID.fullmatch(trace_id) is None:
        return random.random() < sample_rate
    value = int(trace_id, 16)
    hi, lo = value >> 64, value & _MASK64
    x = lo ^ ((hi * 0x9E3779B97F4A7C15) & _MASK64)
    x ^= x >> 33
    x = (x * 0xFF51AFD7ED558CCD) & _MASK64
    x ^= x >> 33
    x = (x * 0xC4CEB9FE1A85EC53) & _MASK64
    x ^= x >> 33
    return (x >> 11) * 2.0 ** -53 < sample_rate


def _new_span_id() -> str:
    # Not secrets: ids need to be unique, not unguessable, and os.urandom is a syscall.
    # random's global generator is reseeded in a fork()ed child.
    return "%016x" % (random.getrandbits(64) or 1)


def _new_trace_id() -> str:
    return "%032x" % (random.getrandbits(128) or 1)


def _error_text(exc: BaseException) -> str:
    try:
        return str(exc) or type(exc).__name__
    except Exception:  # noqa: BLE001
        return type(exc).__name__


class Span:
    """One traced operation, with the seed's fields plus trace_id and run_id.

    started_at / ended_at are time.monotonic() seconds, as in the seed. Use it as a
    context manager (`with` or `async with`) to make it the current span; finish() sends
    it. Not meant to be shared between threads while open.
    """

    # No __slots__: a plain __dict__ lets the exporter read every field in one pick.

    def __init__(self, name: str, kind: Any = SpanKind.CUSTOM, *,
                 inputs: Optional[Dict[str, Any]] = None,
                 metadata: Optional[Dict[str, Any]] = None,
                 parent_id: Optional[str] = None, trace_id: Optional[str] = None,
                 run_id: Optional[str] = None, tracer: Optional["Tracer"] = None) -> None:
        self.span_id = _new_span_id()
        self.parent_id = parent_id
        self.name = name
        self.kind = kind
        self.inputs = inputs if inputs is not None else {}
        self.outputs: Optional[Dict[str, Any]] = None
        self.error: Optional[str] = None
        self.started_at = time.monotonic()
        self.ended_at: Optional[float] = None
        self.metadata = metadata if metadata is not None else {}
        self.trace_id = trace_id
        self.run_id = run_id
        self._tracer = tracer
        self._owns_trace = False
        self._sampled = True
        self._token: Any = None

    @property
    def duration_ms(self) -> Optional[float]:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at) * 1000.0

    def finish(self, outputs: Any = None, error: Optional[str] = None) -> None:
        """Closes the span (once; later calls do nothing) and hands it to the exporter."""
        if self.ended_at is not None:
            return
        self.ended_at = time.monotonic()
        if outputs is not None:
            self.outputs = outputs if isinstance(outputs, dict) else {"result": outputs}
        if error is not None:
            self.error = error
        tracer = self._tracer
        if tracer is not None:
            tracer._on_finish(self)

    def record_exception(self, exc: BaseException) -> None:
        self.error = _error_text(exc)
        try:
            self.metadata.setdefault("error.type", type(exc).__name__)
        except Exception:  # noqa: BLE001
            pass

    def __enter__(self) -> "Span":
        self._token = current_span.set(self)
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        if exc is not None:
            self.record_exception(exc)
        self.finish()
        token, self._token = self._token, None
        if token is not None:
            try:
                current_span.reset(token)
            except (ValueError, RuntimeError):
                pass
        return False

    async def __aenter__(self) -> "Span":
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        return self.__exit__(exc_type, exc, tb)

    def __repr__(self) -> str:
        return "Span(name=%r, kind=%s, span_id=%s, parent_id=%s, trace_id=%s)" % (
            self.name, getattr(self.kind, "name", self.kind), self.span_id, self.parent_id,
            self.trace_id)


class _TraceScope:
    """`with tracer.trace(run_id=...)`: spans inside share one trace; trace_end at exit."""

    def __init__(self, tracer: "Tracer", trace_id: Optional[str], run_id: Optional[str]) -> None:
        self.tracer = tracer
        self.trace_id = trace_id or _new_trace_id()
        self.run_id = run_id
        self._token: Any = None

    def __enter__(self) -> "_TraceScope":
        self._token = set_trace_context(trace_id=self.trace_id, run_id=self.run_id)
        return self

    def __exit__(self, *exc: Any) -> bool:
        if self._token is not None:
            reset_trace_context(self._token)
            self._token = None
        self.tracer._end_trace(self.trace_id, self.run_id)
        return False

    async def __aenter__(self) -> "_TraceScope":
        return self.__enter__()

    async def __aexit__(self, *exc: Any) -> bool:
        return self.__exit__(*exc)


class Tracer:
    """Starts spans and sends them through a SocketTraceExporter (or any object with
    export_span_nowait / send_trace_end). Thread-safe.

    A span started with no current span and no trace context starts a new trace and ends
    it (trace_end) when it finishes. The knobs are the seed's TracingConfig ones.
    """

    def __init__(self, exporter: Optional[SocketTraceExporter] = None, *,
                 path: Optional[str] = None, enabled: bool = True, sample_rate: float = 1.0,
                 include_inputs: bool = True, include_outputs: bool = True,
                 run_id: Optional[str] = None, service: Optional[str] = None) -> None:
        self.exporter = exporter if exporter is not None else SocketTraceExporter(
            path, service=service)
        self.enabled = enabled
        self.sample_rate = sample_rate
        self.include_inputs = include_inputs
        self.include_outputs = include_outputs
        self.run_id = run_id

    def start_span(self, name: str, kind: Any = SpanKind.CUSTOM, *,
                   inputs: Optional[Dict[str, Any]] = None,
                   metadata: Optional[Dict[str, Any]] = None,
                   parent: Optional[Span] = None, run_id: Optional[str] = None) -> Span:
        """A started span, child of `parent` or of the current span. Call finish(), or use
        it as a context manager to also make it current."""
        span = Span(name, kind, inputs=inputs if self.include_inputs else None,
                    metadata=metadata, tracer=self)
        try:
            parent = parent if parent is not None else current_span.get()
            if isinstance(parent, Span) and parent.trace_id:
                span.parent_id = parent.span_id
                span.trace_id = parent.trace_id
                span.run_id = run_id or parent.run_id
                span._sampled = parent._sampled
                return span
            ctx: Optional[TraceContext] = current_trace.get()
            if ctx is not None:
                span.trace_id = ctx.trace_id
                span.run_id = run_id or ctx.run_id or self.run_id
            else:
                span.trace_id = _new_trace_id()
                span.run_id = run_id or self.run_id
                span._owns_trace = True
            span._sampled = self.enabled and sampled_in(span.trace_id, self.sample_rate)
        except Exception:  # noqa: BLE001
            pass
        return span

    def span(self, name: str, kind: Any = SpanKind.CUSTOM, **kwargs: Any) -> Span:
        """`with tracer.span("tool.fetch", SpanKind.TOOL, inputs={...}) as s:`"""
        return self.start_span(name, kind, **kwargs)

    def trace(self, run_id: Optional[str] = None, trace_id: Optional[str] = None) -> _TraceScope:
        """`with tracer.trace(run_id="run-42"):` groups the spans inside into one trace."""
        return _TraceScope(self, trace_id, run_id or self.run_id)

    def _on_finish(self, span: Span) -> None:
        try:
            if not span._sampled:
                return
            if not self.include_outputs:
                span.outputs = None
            self.exporter.export_span_nowait(span)
            if span._owns_trace:
                self.exporter.send_trace_end(span.trace_id, span.run_id)
        except Exception:  # noqa: BLE001
            pass

    def _end_trace(self, trace_id: str, run_id: Optional[str]) -> None:
        if self.enabled:
            self.exporter.send_trace_end(trace_id, run_id)

    def flush(self, timeout: float = 5.0) -> bool:
        return self.exporter.flush(timeout)

    def close(self, timeout: float = 2.0) -> bool:
        return self.exporter.close(timeout)


_default_tracer: Optional[Tracer] = None
_default_lock = threading.Lock()


def get_tracer() -> Tracer:
    """The process-wide tracer @traced uses (socket from TRACECOL_SOCKET)."""
    global _default_tracer
    tracer = _default_tracer
    if tracer is None:
        with _default_lock:
            if _default_tracer is None:
                _default_tracer = Tracer()
            tracer = _default_tracer
    return tracer


def configure(tracer: Optional[Tracer] = None, **kwargs: Any) -> Tracer:
    """Replaces the process-wide tracer: configure(path=..., sample_rate=...)."""
    global _default_tracer
    with _default_lock:
        _default_tracer = tracer if tracer is not None else Tracer(**kwargs)
        return _default_tracer


_SKIP_ARGS = ("self", "cls")
_PLAIN_KINDS = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _plain_names(sig: Optional[inspect.Signature]) -> Optional[Tuple[str, ...]]:
    """Parameter names when every parameter is positional (the fast path), else None."""
    if sig is None:
        return None
    params = list(sig.parameters.values())
    if any(p.kind not in _PLAIN_KINDS for p in params):
        return None
    return tuple(p.name for p in params)


def _call_inputs(sig: Optional[inspect.Signature], names: Optional[Tuple[str, ...]],
                 args: Any, kwargs: Any) -> Dict[str, Any]:
    try:
        if names is not None and len(args) <= len(names):
            inputs = dict(zip(names, args))
            if kwargs:
                inputs.update(kwargs)
            if names and names[0] in _SKIP_ARGS and args:
                del inputs[names[0]]
            return inputs
        if sig is not None:
            bound = sig.bind_partial(*args, **kwargs).arguments
            return {k: v for k, v in bound.items() if k not in _SKIP_ARGS}
    except Exception:  # noqa: BLE001
        pass
    return {"args": list(args), "kwargs": dict(kwargs)}


def traced(name: Any = None, kind: Any = SpanKind.CUSTOM, *,
           tracer: Optional[Tracer] = None) -> Any:
    """Decorates a sync or async function: each call is a span (child of the current one)
    that records the arguments as inputs and the return value as outputs. An exception
    is recorded as the span's error and re-raised unchanged. `@traced` alone works too."""
    if callable(name) and not isinstance(name, str):
        return traced(None, kind, tracer=tracer)(name)

    def decorate(fn: F) -> F:
        span_name = name or getattr(fn, "__qualname__", None) or getattr(fn, "__name__", "call")
        try:
            sig: Optional[inspect.Signature] = inspect.signature(fn)
        except (TypeError, ValueError):
            sig = None
        names = _plain_names(sig)

        def begin(args: Any, kwargs: Any) -> Any:
            try:
                t = tracer or get_tracer()
                if not t.enabled:
                    return None, None
                inputs = _call_inputs(sig, names, args, kwargs) if t.include_inputs else None
                span = t.start_span(span_name, kind, inputs=inputs)
                return span, current_span.set(span)
            except Exception:  # noqa: BLE001
                return None, None

        def end(span: Any, token: Any) -> None:
            if token is not None:
                try:
                    current_span.reset(token)
                except (ValueError, RuntimeError):
                    pass

        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                span, token = begin(args, kwargs)
                try:
                    result = await fn(*args, **kwargs)
                except BaseException as exc:
                    if span is not None:
                        _fail(span, exc)
                    raise
                finally:
                    end(span, token)
                if span is not None:
                    _succeed(span, result)
                return result
            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            span, token = begin(args, kwargs)
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                if span is not None:
                    _fail(span, exc)
                raise
            finally:
                end(span, token)
            if span is not None:
                _succeed(span, result)
            return result
        return wrapper  # type: ignore[return-value]

    return decorate


def _fail(span: Span, exc: BaseException) -> None:
    try:
        span.record_exception(exc)
        span.finish()
    except Exception:  # noqa: BLE001
        pass


def _succeed(span: Span, result: Any) -> None:
    try:
        span.finish(outputs=result if result is not None else {"result": None})
    except Exception:  # noqa: BLE001
        pass
