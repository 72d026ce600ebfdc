"""Span and trace objects -> tracecol wire protocol v1 lines (protocol/PROTOCOL.md).

Duck-types the seed's Span and Trace (attributes named as in the seed) and plain dicts.
Every function here is total: whatever the agent hands over, a valid line comes out
(non-JSON values become repr strings, NaN/inf become strings, huge strings are cut,
deep nesting is cut), so the daemon never rejects what the client sends.
"""

from __future__ import annotations

import enum
import hashlib
import json
import math
import operator
import re
import time
import uuid
from typing import Any, Dict, List, Optional, Tuple

#: The daemon's default --max-line-bytes is 1 MiB; stay under it with a margin.
DEFAULT_MAX_LINE_BYTES = 1_000_000
#: Longest string kept inside inputs/outputs/metadata when a line must be shrunk.
_SHRINK_STRING_STEPS = (65536, 4096, 256)
#: Nesting kept inside inputs/outputs/metadata (the daemon caps the whole line at 64;
#: a span inside a trace line starts at level 3).
_MAX_VALUE_DEPTH = 40
_MAX_REPR = 4096

_SPAN_ID_RE = re.compile(r"[0-9a-fA-F]{1,16}")
_TRACE_ID_RE = re.compile(r"[0-9a-fA-F]{1,32}")
_SPAN_HEX = _SPAN_ID_RE.fullmatch
_TRACE_HEX = _TRACE_ID_RE.fullmatch
_MISSING = object()


def _safe_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a hostile __repr__ must not escape
        try:
            text = "<unrepresentable %s>" % type(value).__name__
        except Exception:  # noqa: BLE001
            text = "<unrepresentable>"
    if not isinstance(text, str):
        text = "<unrepresentable>"
    if len(text) > _MAX_REPR:
        text = text[:_MAX_REPR] + "...[truncated]"
    return text


def _default(value: Any) -> Any:
    # Called by the C encoder for anything it cannot encode itself.
    if isinstance(value, enum.Enum):
        inner = value.value
        if isinstance(inner, (str, int, bool)) or inner is None:
            return inner
        return value.name
    if isinstance(value, float):  # float subclass the encoder refused
        return _clean_float(value)
    return _safe_repr(value)


def _make_encoder() -> Any:
    # The C encoder called directly skips JSONEncoder.encode's Python overhead (~0.8 us a
    # span). No circular-reference markers: a cycle ends in RecursionError, which sends
    # the record down the sanitizing slow path like any other encoding failure.
    try:
        from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
        if c_make_encoder is not None:
            chunks = c_make_encoder(None, _default, encode_basestring, None, ":", ",",
                                    False, False, False)
            join = "".join

            def encode(obj: Any) -> str:
                return join(chunks(obj, 0))
            if encode({"probe": [1.5, "x", None]}) != '{"probe":[1.5,"x",null]}':
                raise ValueError("unexpected encoder")
            try:
                encode(float("nan"))
            except ValueError:
                return encode
    except Exception:  # noqa: BLE001 - another interpreter: the portable encoder
        pass
    return json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"),
                            default=_default).encode


_ENCODE = _make_encoder()


def _clean_float(x: float) -> Any:
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x != 0.0 and abs(x) < 1e-300:  # subnormal: the daemon refuses exponents past -308
        return 0.0
    return float(x)


def _sanitize(value: Any, depth: int, max_str: int, seen: Optional[set]) -> Any:
    """A JSON-safe deep copy: keys as strings, NaN/inf as strings, bounded depth/strings."""
    if value is None or value is True or value is False:
        return value
    if isinstance(value, str):
        if type(value) is not str:  # what the C encoder writes for a str subclass
            inner = value.value if isinstance(value, enum.Enum) else None
            value = inner if isinstance(inner, str) else str.__str__(value)
        if len(value) > max_str:
            return value[:max_str] + "...[truncated %d chars]" % (len(value) - max_str)
        return value
    if isinstance(value, int):
        if isinstance(value, enum.Enum):
            return _sanitize(_default(value), depth, max_str, seen)
        if abs(value) >= 10**300:
            return str(value)
        return int(value)
    if isinstance(value, float):
        return _clean_float(value)
    if depth >= _MAX_VALUE_DEPTH:
        return "[too deep] " + _safe_repr(value)[:256]
    if isinstance(value, (dict, list, tuple)):
        if seen is None:
            seen = set()
        ident = id(value)
        if ident in seen:
            return "[circular]"
        seen.add(ident)
        try:
            if isinstance(value, dict):
                out: Any = {}
                for k, v in list(value.items()):
                    if isinstance(k, str):
                        key = k
                    elif k is None or isinstance(k, (int, float, bool)):
                        key = json.dumps(k) if not isinstance(k, float) else _safe_repr(k)
                    else:
                        key = _safe_repr(k)
                    out[key] = _sanitize(v, depth + 1, max_str, seen)
            else:
                out = [_sanitize(v, depth + 1, max_str, seen) for v in list(value)]
        finally:
            seen.discard(ident)
        return out
    return _sanitize(_default(value), depth, max_str, seen)


def _finish_line(text: str) -> bytes:
    # Lone surrogates (e.g. from surrogateescape) cannot be UTF-8: replace them.
    try:
        return text.encode("utf-8") + b"\n"
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace") + b"\n"


_NON_BRACKETS = bytes(b for b in range(256) if b not in b"{}[]")
#: The daemon refuses lines nested deeper than --max-depth (default 64).
_MAX_LINE_DEPTH = 60


def _depth_ok(line: bytes) -> bool:
    """True when the line nests at most _MAX_LINE_DEPTH deep; False when it may not."""
    # Keep only the brackets (C speed), then peel innermost pairs off, one level a pass.
    # Brackets inside strings can only make this answer False: the slow path then
    # rebuilds the record with its depth capped.
    brackets = line.translate(None, _NON_BRACKETS)
    if len(brackets) <= 2 * _MAX_LINE_DEPTH:
        return True
    for _ in range(_MAX_LINE_DEPTH):
        peeled = brackets.replace(b"{}", b"").replace(b"[]", b"")
        if not peeled:
            return True
        if len(peeled) == len(brackets):
            return False
        brackets = peeled
    return False


def dumps_line(record: Dict[str, Any], max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
               value_keys: Tuple[str, ...] = ("inputs", "outputs", "metadata")) -> Optional[bytes]:
    """One record -> one newline-terminated UTF-8 line, or None when nothing fits."""
    try:
        line = _finish_line(_ENCODE(record))
        # b"e-3": a subnormal float (e-308..e-324) the daemon would refuse; rare enough
        # that the false alarms ("use-3", 1e-30) cost nothing that matters.
        if len(line) <= max_line_bytes and b"e-3" not in line and _depth_ok(line):
            return line
    except Exception:  # noqa: BLE001 - NaN, circular, bad keys, deep recursion
        pass
    return _dumps_slow(record, max_line_bytes, value_keys)


def _dumps_slow(record: Dict[str, Any], max_line_bytes: int,
                value_keys: Tuple[str, ...]) -> Optional[bytes]:
    for max_str in _SHRINK_STRING_STEPS:
        try:
            clean = _sanitize(record, -2, max_str, None)
            line = _finish_line(_ENCODE(clean))
        except Exception:  # noqa: BLE001
            continue
        if len(line) <= max_line_bytes:
            return line
    # Still too big: keep the span, drop the bulky values.
    try:
        clean = _sanitize(record, -2, 256, None)
        _strip_values(clean, value_keys)
        line = _finish_line(_ENCODE(clean))
        if len(line) <= max_line_bytes:
            return line
    except Exception:  # noqa: BLE001
        pass
    return None


def _strip_values(record: Dict[str, Any], value_keys: Tuple[str, ...]) -> None:
    for key in value_keys:
        if isinstance(record.get(key), dict):
            record[key] = {"tracecol.truncated": True}
    spans = record.get("spans")
    if isinstance(spans, list):
        for span in spans:
            if isinstance(span, dict):
                _strip_values(span, value_keys)


# ---- ids ---------------------------------------------------------------------------


def span_id_hex(value: Any) -> Optional[str]:
    """A span id as 1-16 hex digits; other ids are hashed (the same input, the same id)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        if _SPAN_HEX(value) and value.strip("0"):
            return value
        data = value.encode("utf-8", "replace")
    elif isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**64:
        return format(value, "x")
    else:
        data = _safe_repr(value).encode("utf-8", "replace")
    digest = hashlib.blake2b(data, digest_size=8).hexdigest()
    return digest if digest.strip("0") else "1"


def trace_id_hex(value: Any) -> Optional[str]:
    """A trace id as 1-32 hex digits (UUIDs lose their dashes); other ids are hashed."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        if _TRACE_HEX(value) and value.strip("0"):
            return value
        if len(value) == 36 and value.count("-") == 4:
            compact = value.replace("-", "")
            if _TRACE_HEX(compact) and compact.strip("0"):
                return compact
        data = value.encode("utf-8", "replace")
    elif isinstance(value, uuid.UUID):
        return value.hex if value.int else None
    elif isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**128:
        return format(value, "x")
    else:
        data = _safe_repr(value).encode("utf-8", "replace")
    digest = hashlib.blake2b(data, digest_size=16).hexdigest()
    return digest if digest.strip("0") else "1"


# ---- times ---------------------------------------------------------------------------

_offset_ns = time.time_ns() - time.monotonic_ns()
_offset_checked = time.monotonic()


def _mono_offset_ns() -> int:
    # realtime - monotonic drifts slowly (NTP slew); refresh it now and then.
    global _offset_ns, _offset_checked
    now = time.monotonic()
    if now - _offset_checked > 10.0:
        _offset_ns = time.time_ns() - time.monotonic_ns()
        _offset_checked = now
    return _offset_ns


def _seconds(value: Any) -> Optional[float]:
    """A usable time in seconds, or None (NaN, negative, absurd, not a time)."""
    if type(value) is not float:
        if value is None or isinstance(value, bool):
            return None
        if isinstance(value, (int, float)):
            value = float(value)
        elif hasattr(value, "timestamp"):  # datetime
            try:
                value = float(value.timestamp())
            except Exception:  # noqa: BLE001
                return None
        else:
            return None
    if not (value >= 0.0) or value >= 9.2e9:  # also NaN
        return None
    return value


def _put_time(rec: Dict[str, Any], seconds_key: str, nano_key: str, value: float,
              offset_ns: int) -> None:
    # Seeds use time.monotonic() (< 1e9 s): converted here to exact Unix nanoseconds, so
    # both ends of a span share one offset and its duration survives to the nanosecond.
    # Unix epoch seconds (>= 1e9) go as they are.
    if value < 1e9:
        rec[nano_key] = int(value * 1e9 + 0.5) + offset_ns
    else:
        rec[seconds_key] = value


# ---- fields --------------------------------------------------------------------------

_SPAN_NAMES = ("span_id", "parent_id", "name", "kind", "started_at", "ended_at", "inputs",
               "outputs", "error", "metadata")
_SPAN_NAME_SET = frozenset(_SPAN_NAMES)
_pick_span_values = operator.itemgetter(*_SPAN_NAMES)
_KIND_NAMES = ("AGENT", "TOOL", "LLM", "CHAIN", "TEAM", "CUSTOM")
_kind_cache: Dict[Any, str] = {}
_class_ids: Dict[type, bool] = {}


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    try:
        return getattr(obj, name, default)
    except Exception:  # noqa: BLE001 - a raising property
        return default


def kind_text(kind: Any) -> str:
    try:
        return _kind_cache[kind]
    except (KeyError, TypeError):
        pass
    text = "CUSTOM"
    if isinstance(kind, enum.Enum):
        text = kind.name.upper() if kind.name.upper() in _KIND_NAMES else "CUSTOM"
    elif isinstance(kind, str):
        upper = (kind[9:] if kind.startswith("SpanKind.") else kind).upper()
        text = upper if upper in _KIND_NAMES else "CUSTOM"
    try:
        if len(_kind_cache) < 256:
            _kind_cache[kind] = text
    except TypeError:
        pass
    return text


def _object_field(value: Any, wrap_key: str) -> Any:
    if value is None or type(value) is dict:
        return value
    if isinstance(value, dict):
        return dict(value)
    if hasattr(value, "keys") and hasattr(value, "__getitem__"):
        try:
            return {str(k): value[k] for k in value.keys()}
        except Exception:  # noqa: BLE001
            pass
    return {wrap_key: value}


def _span_values(span: Any) -> Tuple[Any, ...]:
    # A dataclass (the seed's Span) holds every field in __dict__: one C-level pick.
    d = span if type(span) is dict else getattr(span, "__dict__", None)
    if type(d) is dict and d.keys() >= _SPAN_NAME_SET:
        return _pick_span_values(d)
    return tuple(_get(span, n, _MISSING if n == "outputs" else None) for n in _SPAN_NAMES)


def span_record(span: Any, include_inputs: bool = True, include_outputs: bool = True
                ) -> Tuple[Dict[str, Any], Optional[str], Optional[str]]:
    """(record, trace_id, run_id) of one span. The record is a `span` line's object with
    `trace_id` and `run_id` still None (the caller fills them in); the ids are the ones
    the span names itself (attribute or metadata key), or None."""
    sid, parent, name, kind, started, ended, inputs, outputs, error, metadata = _span_values(span)
    rec: Dict[str, Any] = {"type": "span", "trace_id": None, "run_id": None,
                           "span_id": span_id_hex(sid)}
    if parent is not None:
        parent = span_id_hex(parent)
        if parent is not None:
            rec["parent_id"] = parent
    rec["name"] = name if type(name) is str or name is None else _safe_repr(name)
    rec["kind"] = kind_text(kind)
    offset = _mono_offset_ns()
    start_s = _seconds(started)
    end_s = _seconds(ended)
    if start_s is None:
        start_s = end_s
    if start_s is not None:
        _put_time(rec, "started_at", "start_time_unix_nano", start_s, offset)
    else:
        rec["start_time_unix_nano"] = time.time_ns()
    if end_s is not None:
        _put_time(rec, "ended_at", "end_time_unix_nano", end_s, offset)
    if include_inputs and inputs is not None:
        rec["inputs"] = inputs if type(inputs) is dict else _object_field(inputs, "value")
    if include_outputs and outputs is not _MISSING:
        rec["outputs"] = outputs if outputs is None or type(outputs) is dict else \
            _object_field(outputs, "result")
    if error is not None:
        rec["error"] = error if type(error) is str else (_safe_repr(error) if not
                                                         isinstance(error, BaseException)
                                                         else str(error) or type(error).__name__)
    if metadata is not None:
        rec["metadata"] = metadata if type(metadata) is dict else _object_field(metadata, "value")
    tid, run = _own_trace(span, metadata)
    return rec, tid, run


def _own_trace(span: Any, metadata: Any) -> Tuple[Optional[str], Optional[str]]:
    if type(span) is dict:
        tid = span.get("trace_id")
        run = span.get("run_id")
    else:
        d = getattr(span, "__dict__", None)
        cls = type(span)
        declared = _class_ids.get(cls)
        if declared is None:
            declared = hasattr(cls, "trace_id") or hasattr(cls, "run_id") or type(d) is not dict
            if len(_class_ids) < 1024:
                _class_ids[cls] = declared
        if declared:
            tid = _get(span, "trace_id")
            run = _get(span, "run_id")
        else:
            tid = d.get("trace_id")  # type: ignore[union-attr]
            run = d.get("run_id")  # type: ignore[union-attr]
    if (tid is None or run is None) and type(metadata) is dict and metadata:
        if tid is None:
            tid = metadata.get("trace_id")
        if run is None:
            run = metadata.get("run_id")
    if tid is not None:
        tid = trace_id_hex(tid)
    if run is not None and type(run) is not str:
        run = _safe_repr(run)
    return tid, run


def trace_identity(obj: Any) -> Tuple[Optional[str], Optional[str]]:
    """(trace_id, run_id) an object names itself (a Trace, a Span, a dict)."""
    return _own_trace(obj, _get(obj, "metadata"))


def span_line(rec: Dict[str, Any], trace_id: str, run_id: Optional[str],
              max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Optional[bytes]:
    rec["trace_id"] = trace_id
    rec["run_id"] = run_id
    return dumps_line(rec, max_line_bytes)


_TRACE_SKIP = frozenset(("type", "trace_id", "run_id"))


def trace_lines(trace_id: str, run_id: Optional[str], spans: List[Dict[str, Any]],
                max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> List[bytes]:
    """A whole trace as one `trace` line, or, when that is too big for one line, one
    `span` line per span and a `trace_end` (the daemon treats both the same)."""
    rec: Dict[str, Any] = {"type": "trace", "trace_id": trace_id}
    if run_id is not None:
        rec["run_id"] = run_id
    rec["spans"] = [{k: v for k, v in s.items() if k not in _TRACE_SKIP or
                     (k == "run_id" and v is not None and v != run_id)} for s in spans]
    try:
        line = _finish_line(_ENCODE(rec))
        if len(line) <= max_line_bytes and _depth_ok(line):
            return [line]
        if len(line) <= max_line_bytes:  # maybe too deep: the sanitizer cuts depth
            slow = _dumps_slow(rec, max_line_bytes, ())
            if slow is not None:
                return [slow]
    except Exception:  # noqa: BLE001
        pass
    out = []
    for fields in spans:
        line = span_line(dict(fields), trace_id,
                         fields.get("run_id") if fields.get("run_id") is not None else run_id,
                         max_line_bytes)
        if line is not None:
            out.append(line)
    end: Dict[str, Any] = {"type": "trace_end", "trace_id": trace_id}
    if run_id is not None:
        end["run_id"] = run_id
    out.append(_finish_line(_ENCODE(end)))
    return out
