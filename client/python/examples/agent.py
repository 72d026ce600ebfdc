#!/usr/bin/env python3
"""A small fake LLM agent that sends its traces to tracecol.

Each run is one trace: an AGENT span (agent.run) with a planning LLM call, a few TOOL
calls (run concurrently as asyncio tasks), one of which sometimes fails, and a final LLM
answer. Nothing here talks to a real model.

    python3 client/python/examples/agent.py --traces 5
    TRACECOL_SOCKET=/run/tracecol/tracecol.sock python3 agent.py --forever --interval 2

Exit code 0 when the daemon acknowledged every trace (flush), 1 otherwise (the agent
itself never fails because of tracing).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import sys

try:
    import tracecol
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import tracecol

from tracecol import SpanKind, traced

QUESTIONS = [
    "What is the refund policy for damaged items?",
    "Summarise yesterday's support tickets.",
    "Find the cheapest flight from Lyon to Oslo next week.",
    "Which customers asked about invoices twice?",
]
TOOLS = ["search_docs", "fetch_ticket", "lookup_order", "weather"]


class ToolError(RuntimeError):
    pass


@traced("llm.complete", SpanKind.LLM)
async def llm_complete(prompt: str, model: str = "fake-gpt", temperature: float = 0.2) -> dict:
    await asyncio.sleep(random.uniform(0.005, 0.04))
    words = prompt.split()
    return {"text": "Answer about " + " ".join(words[:6]), "model": model,
            "usage": {"prompt_tokens": len(words) * 2, "completion_tokens": 24}}


@traced("tool.call", SpanKind.TOOL)
async def call_tool(tool: str, query: str, fail_rate: float = 0.0) -> dict:
    await asyncio.sleep(random.uniform(0.002, 0.02))
    if random.random() < fail_rate:
        raise ToolError("%s timed out after 3s" % tool)
    return {"tool": tool, "hits": random.randint(0, 5)}


@traced("agent.plan", SpanKind.CHAIN)
async def plan(question: str) -> list:
    reply = await llm_complete("Plan the tools for: " + question)
    return random.sample(TOOLS, k=random.randint(1, 3)) if reply else []


@traced("agent.run", SpanKind.AGENT)
async def run_agent(question: str, fail_rate: float) -> dict:
    tools = await plan(question)
    results = await asyncio.gather(*(call_tool(t, question, fail_rate) for t in tools),
                                   return_exceptions=True)
    usable = [r for r in results if isinstance(r, dict)]
    answer = await llm_complete("Answer %r using %d results" % (question, len(usable)))
    return {"answer": answer["text"], "tools_ok": len(usable), "tools_failed": len(results) - len(usable)}


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--socket", default=None, help="tracecol socket (default: $TRACECOL_SOCKET "
                    "or /tmp/tracecol.sock)")
    ap.add_argument("--traces", type=int, default=5, help="agent runs to make (default 5)")
    ap.add_argument("--forever", action="store_true", help="keep running (docker-compose demo)")
    ap.add_argument("--interval", type=float, default=0.0, help="seconds between runs")
    ap.add_argument("--fail-rate", type=float, default=0.2, help="chance a tool call fails")
    ap.add_argument("--run-id", default=None, help="run_id of the traces (default: agent-<pid>)")
    ap.add_argument("--service", default="example-agent")
    ap.add_argument("--seed", type=int, default=None, help="random seed")
    args = ap.parse_args()
    if args.seed is not None:
        random.seed(args.seed)

    # docker stop sends SIGTERM: exit normally so the atexit flush sends what is queued.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    tracer = tracecol.configure(path=args.socket, run_id=args.run_id or "agent-%d" % os.getpid(),
                                service=args.service)
    done = 0
    while args.forever or done < args.traces:
        question = random.choice(QUESTIONS)
        result = await run_agent(question, args.fail_rate)
        done += 1
        print("run %d: %s (%d tools ok, %d failed)" % (done, question, result["tools_ok"],
                                                         result["tools_failed"]), flush=True)
        if args.interval > 0:
            await asyncio.sleep(args.interval)
    ok = tracer.flush(10.0)
    stats = tracer.exporter.stats()
    print("tracecol: %s; accepted=%d rejected=%d dropped=%d" % (
        "flushed" if ok else "NOT acknowledged (is tracecol running?)", stats["accepted"],
        stats["rejected"], stats["dropped"]), flush=True)
    return 0 if ok and stats["rejected"] == 0 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
