"""tracecol: send agent traces to the tracecol daemon (standard library only).

With the agents' tracing layer, the whole integration is one line::

    config = TracingConfig(enabled=True, exporter=tracecol.SocketTraceExporter())

Without it, the standalone API::

    @tracecol.traced("tool.fetch", tracecol.SpanKind.TOOL)
    async def fetch(url): ...
"""

from .context import TraceContext, reset_trace_context, set_trace_context, trace_context
from .exporter import DEFAULT_SOCKET, SocketTraceExporter, default_socket_path
from .tracer import Span, SpanKind, Tracer, configure, get_tracer, sampled_in, traced

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_SOCKET", "SocketTraceExporter", "Span", "SpanKind", "TraceContext", "Tracer",
    "configure", "default_socket_path", "get_tracer", "reset_trace_context", "sampled_in",
    "set_trace_context", "trace_context", "traced", "__version__",
]
