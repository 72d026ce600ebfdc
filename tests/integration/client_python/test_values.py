"""Whatever an agent puts in a span, the exporter sends a line the daemon accepts and
never raises: non-JSON values become repr strings, NaN/inf strings, huge payloads and
deep nesting are bounded, bad ids are mapped, lone surrogates replaced."""

from __future__ import annotations

import asyncio
import unittest

import tracecol
from daemon_fixture import DaemonTestCase, wait_until
from seed_model import Span, SpanKind, Trace


class Exploding:
    def __repr__(self) -> str:
        raise RuntimeError("repr exploded")


class HostileProperty:
    """A span-like object whose attributes raise."""
    span_id = "abc"
    name = "hostile"

    @property
    def inputs(self):
        raise RuntimeError("no inputs for you")

    @property
    def started_at(self):
        raise RuntimeError("no time either")


class ValuesTest(DaemonTestCase):
    def export_one(self, **fields):
        daemon = self.start_daemon("--trace-linger", "60s")
        exporter = self.exporter(daemon.socket_path)
        trace = Trace(run_id="values")
        span = Span(name="llm.complete", kind=SpanKind.LLM, **fields)
        span.finish()
        span.trace_id = trace.trace_id  # type: ignore[attr-defined]
        asyncio.run(exporter.export_span(span))
        self.flush(exporter)
        stats = exporter.stats()
        self.assertEqual((stats["rejected"], stats["internal_errors"], exporter.dropped), (0, 0, 0),
                         stats)
        rec = wait_until(lambda: daemon.trace(trace.trace_id), what="the span")
        return rec["spans"][0]

    def test_non_json_values_become_repr_strings_and_non_finite_numbers_strings(self) -> None:
        circular: dict = {"name": "loop"}
        circular["self"] = circular
        got = self.export_one(inputs={
            "obj": object.__new__(Exploding), "set": {1}, "bytes": b"\x00\xff",
            "nan": float("nan"), "inf": float("inf"), "ninf": float("-inf"),
            "tuple": (1, 2), "circular": circular, 7: "int key", (1, 2): "tuple key",
            "big": 10**400, "tiny": 5e-324, "kind": SpanKind.TOOL,
        })
        inputs = got["inputs"]
        self.assertEqual(inputs["obj"], "<unrepresentable Exploding>")
        self.assertEqual(inputs["set"], "{1}")
        self.assertEqual(inputs["bytes"], repr(b"\x00\xff"))
        self.assertEqual((inputs["nan"], inputs["inf"], inputs["ninf"]),
                         ("NaN", "Infinity", "-Infinity"))
        self.assertEqual(inputs["tuple"], [1, 2])
        self.assertEqual(inputs["circular"], {"name": "loop", "self": "[circular]"})
        self.assertEqual(inputs["7"], "int key")
        self.assertEqual(inputs["(1, 2)"], "tuple key")
        self.assertEqual(inputs["big"], str(10**400))
        self.assertEqual(inputs["tiny"], 0)
        self.assertEqual(inputs["kind"], "tool")

    def test_a_subnormal_float_alone_is_sent_as_zero(self) -> None:
        got = self.export_one(inputs={"tiny": 5e-324, "small": 1e-30, "word": "use-3"})
        self.assertEqual(got["inputs"], {"tiny": 0, "small": 1e-30, "word": "use-3"})

    def test_a_huge_payload_is_cut_to_fit_a_line(self) -> None:
        got = self.export_one(inputs={"prompt": "x" * 3_000_000, "n": 1},
                              outputs={"text": "y" * 100})
        self.assertEqual(got["inputs"]["n"], 1)
        self.assertLess(len(got["inputs"]["prompt"]), 70_000)
        self.assertTrue(got["inputs"]["prompt"].startswith("xxxx"))
        self.assertIn("truncated", got["inputs"]["prompt"])
        self.assertEqual(got["outputs"], {"text": "y" * 100})

    def test_too_many_small_values_drop_the_bulk_but_keep_the_span(self) -> None:
        got = self.export_one(inputs={"k%d" % i: "v" * 200 for i in range(20000)})
        self.assertEqual(got["inputs"], {"tracecol.truncated": True})
        self.assertEqual(got["name"], "llm.complete")

    def test_deep_nesting_is_cut_below_the_daemons_depth_limit(self) -> None:
        deep: dict = {}
        node = deep
        for _ in range(200):
            node["d"] = {}
            node = node["d"]
        got = self.export_one(inputs={"deep": deep})
        depth, node = 0, got["inputs"]["deep"]
        while isinstance(node, dict):
            node, depth = node.get("d"), depth + 1
        self.assertGreater(depth, 30)
        self.assertTrue(str(node).startswith("[too deep]"), node)

    def test_lone_surrogates_and_control_characters_survive_as_valid_utf8(self) -> None:
        got = self.export_one(inputs={"s": "a\udc80b", "c": "tab\there\x00nul"},
                              error="bad \ud800 error")
        self.assertEqual(got["inputs"]["s"], "a?b")
        self.assertEqual(got["inputs"]["c"], "tab\there\x00nul")
        self.assertEqual(got["error"], "bad ? error")

    def test_odd_ids_kinds_and_times_are_mapped_not_rejected(self) -> None:
        daemon = self.start_daemon("--trace-linger", "60s")
        exporter = self.exporter(daemon.socket_path)
        trace = {"trace_id": "6f1c1f4e-3b7a-4c2a-9a53-2f4f1d2b8e10", "run_id": 7, "spans": [
            {"span_id": "root-span", "name": None, "kind": "robot", "started_at": "soon"},
            {"span_id": 17, "parent_id": "root-span", "name": 5, "kind": SpanKind.TEAM,
             "started_at": float("nan"), "ended_at": -3, "inputs": ["not", "a", "dict"],
             "outputs": "text", "error": ValueError("as object"), "metadata": None},
        ]}
        asyncio.run(exporter.export(trace))
        exporter.export_span_nowait(HostileProperty())
        exporter.export_span_nowait(None)
        exporter.export_span_nowait(42)
        self.flush(exporter)
        self.assertEqual(exporter.stats()["rejected"], 0, exporter.stats())
        rec = wait_until(lambda: daemon.trace("6f1c1f4e3b7a4c2a9a532f4f1d2b8e10"), what="the trace")
        self.assertEqual(rec["run_id"], "7")
        self.assertEqual(rec["span_count"], 2)
        root, child = rec["spans"]
        self.assertEqual(root["kind"], "CUSTOM")
        self.assertEqual(child["parent_id"], root["span_id"], "hashed ids keep the link")
        self.assertEqual(child["span_id"], "0000000000000011")
        self.assertEqual(child["kind"], "TEAM")
        self.assertEqual(child["name"], "5")
        self.assertEqual(child["inputs"], {"value": ["not", "a", "dict"]})
        self.assertEqual(child["outputs"], {"result": "text"})
        self.assertEqual(child["error"], "as object")


if __name__ == "__main__":
    unittest.main()
