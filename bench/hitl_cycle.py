"""The HITL cycle through the official ``langgraph-sdk`` client (SPEC P1, P2, P3).

    .venv/bin/python bench/hitl_cycle.py --url http://127.0.0.1:8123 [--token JWT]
        [--concurrency 50] [--duration 60] [--warmup 5] [--assistant refund_agent] [--json]

One cycle, as a client of a human-in-the-loop service does it:

1. ``threads.create``
2. ``runs.wait`` with the refund request: the run stops at ``interrupt()``; the answer must
   carry the pending interrupt (``__interrupt__``)
3. ``threads.get_state``: the reviewer reads what is asked (``interrupts`` / ``tasks``)
4. ``runs.wait`` with ``command.resume``: an Agent Inbox ``edit`` whose amount is unique to
   the cycle
5. ``threads.get_state``: the final state must hold exactly that refund

``--concurrency`` clients loop over cycles for ``--warmup`` seconds (not counted), then for
``--duration`` seconds. A cycle that raises, or whose final state does not hold the decision
it sent, is an error. Prints cycles/s, cycle and per-step latency percentiles and errors;
``--json`` prints one JSON object instead (``bench/side_by_side.py`` reads it).
Works against Countersign (``--token``) and ``langgraph dev`` (no token) alike.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from langgraph_sdk import get_client

STEPS = ("create", "run_to_interrupt", "get_state", "resume", "final_state")


@dataclass
class Tally:
    measuring: bool = False
    cycles: list[float] = field(default_factory=list)
    steps: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STEPS})
    errors: list[str] = field(default_factory=list)
    timeline: list[float] = field(default_factory=list)  # end time of each counted cycle


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def one_cycle(client: Any, assistant: str, amount: float, times: dict[str, float]) -> None:
    async def step(name: str, coro: Any) -> Any:
        began = time.perf_counter()
        result = await coro
        times[name] = (time.perf_counter() - began) * 1000
        return result

    thread = await step("create", client.threads.create())
    tid = thread["thread_id"]
    request = {"order_id": f"B-{amount:.0f}", "amount": amount, "customer": "Ada", "reason": "x"}
    paused = await step(
        "run_to_interrupt", client.runs.wait(tid, assistant, input={"request": request})
    )
    if not isinstance(paused, dict) or not paused.get("__interrupt__"):
        raise AssertionError(f"run did not stop at the interrupt: {str(paused)[:200]}")
    state = await step("get_state", client.threads.get_state(tid))
    asked = [i for task in state.get("tasks", []) for i in task.get("interrupts", [])]
    if not asked:
        raise AssertionError("get_state shows no pending interrupt")
    edited = amount + 0.5
    decision = [
        {"type": "edit", "args": {"action": "refund", "args": {"order_id": "E", "amount": edited}}}
    ]
    await step("resume", client.runs.wait(tid, assistant, command={"resume": decision}))
    final = await step("final_state", client.threads.get_state(tid))
    refunds = (final.get("values") or {}).get("refunds") or []
    if len(refunds) != 1 or refunds[0].get("amount") != edited:
        raise AssertionError(f"final state lacks the decision sent: {refunds!r}")


async def worker(
    client: Any, assistant: str, tally: Tally, counter: itertools.count[int], stop: float
) -> None:
    while time.perf_counter() < stop:
        times: dict[str, float] = {}
        began = time.perf_counter()
        try:
            await one_cycle(client, assistant, float(next(counter)), times)
        except Exception as exc:
            if tally.measuring:
                tally.errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
            continue
        ended = time.perf_counter()
        if tally.measuring and ended <= stop:
            tally.cycles.append((ended - began) * 1000)
            tally.timeline.append(ended)
            for name, ms in times.items():
                tally.steps[name].append(ms)


async def run(
    url: str, token: str | None, concurrency: int, duration: float, warmup: float, assistant: str
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else None
    client = get_client(url=url, headers=headers, timeout=120)
    tally = Tally()
    counter = itertools.count(1)
    began = time.perf_counter()
    stop = began + warmup + duration
    tasks = [
        asyncio.create_task(worker(client, assistant, tally, counter, stop))
        for _ in range(concurrency)
    ]
    await asyncio.sleep(warmup)
    tally.measuring = True
    measured_from = time.perf_counter()
    await asyncio.gather(*tasks)
    elapsed = max(1e-9, min(time.perf_counter(), stop) - measured_from)
    await client.aclose()
    n = len(tally.cycles)
    per_minute = []
    if tally.timeline:
        for minute in range(int(duration // 60)):
            lo, hi = measured_from + minute * 60, measured_from + (minute + 1) * 60
            per_minute.append(sum(1 for t in tally.timeline if lo <= t < hi) / 60)
    return {
        "url": url,
        "concurrency": concurrency,
        "duration_s": round(elapsed, 2),
        "cycles": n,
        "cycles_per_s": n / elapsed,
        "errors": len(tally.errors),
        "error_samples": tally.errors[:5],
        "cycle_ms": {
            "p50": statistics.median(tally.cycles) if n else float("nan"),
            "p90": percentile(tally.cycles, 0.90),
            "p99": percentile(tally.cycles, 0.99),
        },
        "step_ms": {
            name: {"p50": percentile(v, 0.5), "p99": percentile(v, 0.99)}
            for name, v in tally.steps.items()
        },
        "per_minute_cycles_per_s": per_minute,
    }


def report(result: dict[str, Any]) -> str:
    c = result["cycle_ms"]
    lines = [
        f"{result['url']}  c={result['concurrency']}  {result['duration_s']} s",
        f"  cycles {result['cycles']}  ({result['cycles_per_s']:.2f}/s)  errors {result['errors']}",
        f"  cycle ms  p50 {c['p50']:.1f}  p90 {c['p90']:.1f}  p99 {c['p99']:.1f}",
    ]
    for name, s in result["step_ms"].items():
        lines.append(f"  {name:<17} p50 {s['p50']:8.1f}  p99 {s['p99']:8.1f}")
    if result["per_minute_cycles_per_s"]:
        minutes = ", ".join(f"{v:.1f}" for v in result["per_minute_cycles_per_s"])
        lines.append(f"  cycles/s per minute: {minutes}")
    for sample in result["error_samples"]:
        lines.append(f"  error: {sample}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", default=None)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument("--assistant", default="refund_agent")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(
        run(args.url, args.token, args.concurrency, args.duration, args.warmup, args.assistant)
    )
    print(json.dumps(result) if args.json else report(result))
    sys.exit(1 if result["errors"] else 0)


if __name__ == "__main__":
    main()
