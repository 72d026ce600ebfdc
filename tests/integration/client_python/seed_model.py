"""The seed's tracing model (shared/seed/agent-tracing-layer.txt) re-created as written:
Span, Trace, SpanKind, TracingConfig and the runtime-checkable TraceExporter protocol,
plus the smallest agent runtime that drives an exporter the way the seed describes
(export_span after each span finishes, export(trace) at the end of the run)."""

from __future__ import annotations

import enum
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

try:
    from typing import Protocol, runtime_checkable
except ImportError:  # pragma: no cover - Python < 3.8
    raise


class SpanKind(str, enum.Enum):
    AGENT = "agent"
    TOOL = "tool"
    LLM = "llm"
    CHAIN = "chain"
    CUSTOM = "custom"
    TEAM = "team"


@dataclass
class Span:
    name: str = ""
    kind: SpanKind = SpanKind.CUSTOM
    span_id: str = field(default_factory=lambda: secrets.token_hex(8))  # 16-char hex
    parent_id: Optional[str] = None  # None for root spans
    inputs: Dict[str, Any] = field(default_factory=dict)
    outputs: Optional[Dict[str, Any]] = None
    error: Optional[str] = None
    started_at: float = field(default_factory=time.monotonic)  # monotonic timestamp
    ended_at: Optional[float] = None
    metadata: Dict[str, Any] = field(default_factory=dict)

    @property
    def duration_ms(self) -> Optional[float]:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at) * 1000.0

    def finish(self, outputs: Optional[Dict[str, Any]] = None) -> None:
        self.ended_at = time.monotonic()
        if outputs is not None:
            self.outputs = outputs


@dataclass
class Trace:
    run_id: Optional[str] = None
    trace_id: str = field(default_factory=lambda: secrets.token_hex(16))
    spans: List[Span] = field(default_factory=list)

    def as_tree(self) -> str:
        by_parent: Dict[Optional[str], List[Span]] = {}
        for s in self.spans:
            by_parent.setdefault(s.parent_id, []).append(s)
        lines: List[str] = []

        def walk(parent: Optional[str], depth: int) -> None:
            for s in by_parent.get(parent, []):
                lines.append("%s%s [%dms]" % ("  " * depth, s.name, int(s.duration_ms or 0)))
                walk(s.span_id, depth + 1)
        walk(None, 0)
        return "\n".join(lines)


@runtime_checkable
class TraceExporter(Protocol):
    async def export(self, trace: Trace) -> None: ...

    async def export_span(self, span: Span) -> None: ...


@dataclass
class TracingConfig:
    enabled: bool = False  # master switch
    exporter: Any = None  # TraceExporter instance
    sample_rate: float = 1.0  # fraction of traces to export
    include_inputs: bool = True  # record input arguments
    include_outputs: bool = True  # record return values


class SeedRuntime:
    """What the agents' library does with a TracingConfig: spans finish children first,
    each is handed to export_span, and the finished trace to export()."""

    def __init__(self, config: TracingConfig) -> None:
        self.config = config

    async def finish(self, span: Span, outputs: Optional[Dict[str, Any]] = None) -> None:
        span.finish(outputs=outputs)
        if self.config.enabled and hasattr(self.config.exporter, "export_span"):
            await self.config.exporter.export_span(span)

    async def end(self, trace: Trace) -> None:
        if self.config.enabled:
            await self.config.exporter.export(trace)
