"""P6: a burst of resumes. 10,000 threads paused at ``interrupt()``, all resumed at once.

    .venv/bin/python bench/burst_p6.py --url http://127.0.0.1:8123 --token JWT \\
        [--threads 10000] [--in-flight 64] [--metrics-url http://127.0.0.1:8123/metrics]

Against a running server (start it as in bench/RESULTS.md, "P6"), through the official
``langgraph-sdk``:

1. seed: ``--threads`` threads, each with a refund run (``runs.create``, not waited) that
   stops at its interrupt; done when ``threads.count(status="interrupted")`` says all are;
2. burst: one ``runs.create`` with ``command.resume`` (an Agent Inbox ``edit`` whose amount
   is the thread's number) for every thread, as fast as the client sends them
   (``--in-flight`` requests at once);
3. drain: every second, the queue-depth gauge (``countersign_runs_pending_total`` from
   ``--metrics-url``) and how many threads are idle again, until all are (or ``--timeout``);
4. check: every thread's values hold exactly one refund, of its own amount: none lost, none
   applied twice.

Prints the seed and submit times, the drain rate, the gauge's trace, and lost/doubled counts;
exits non-zero if anything was lost or doubled.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import httpx
from langgraph_sdk import get_client

ASSISTANT = "refund_agent"


async def bounded(limit: int, jobs: list[Any]) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(job: Any) -> Any:
        async with gate:
            return await job

    return await asyncio.gather(*(one(job) for job in jobs))


async def gauge(metrics_url: str | None, http: httpx.AsyncClient) -> float | None:
    if not metrics_url:
        return None
    try:
        text = (await http.get(metrics_url)).text
    except httpx.HTTPError:
        return None
    total = 0.0
    for line in text.splitlines():
        if line.startswith("countersign_runs_pending_total"):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def count(client: Any, status: str) -> int:
    return int(await client.threads.count(status=status))


async def run(args: argparse.Namespace) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else None
    client = get_client(url=args.url, headers=headers, timeout=300)
    http = httpx.AsyncClient(timeout=10)
    n = args.threads
    began = time.perf_counter()
    threads = await bounded(args.in_flight, [client.threads.create() for _ in range(n)])
    ids = [t["thread_id"] for t in threads]
    request = {"order_id": "P6", "amount": 1, "customer": "Ada", "reason": "burst"}
    await bounded(
        args.in_flight,
        [client.runs.create(tid, ASSISTANT, input={"request": request}) for tid in ids],
    )
    while await count(client, "interrupted") < n:
        if time.perf_counter() - began > args.timeout:
            raise SystemExit("seeding did not finish in time")
        await asyncio.sleep(1)
    seeded = time.perf_counter() - began
    print(f"seeded {n} paused threads in {seeded:.1f} s", flush=True)

    def decision(i: int) -> dict[str, Any]:
        edit = {"action": "refund", "args": {"order_id": f"P6-{i}", "amount": i + 1}}
        return {"resume": [{"type": "edit", "args": edit}]}

    burst_at = time.perf_counter()
    trace: list[tuple[float, float | None, int]] = []
    drained = asyncio.Event()

    async def sample() -> None:
        while not drained.is_set():
            idle = await count(client, "idle")
            pending = await gauge(args.metrics_url, http)
            at = time.perf_counter() - burst_at
            trace.append((at, pending, idle))
            print(f"  t={at:6.1f} s  pending gauge {pending}  idle {idle}", flush=True)
            if idle >= n or time.perf_counter() - burst_at > args.timeout:
                drained.set()
                return
            await asyncio.sleep(1)

    sampler = asyncio.create_task(sample())
    answers = await bounded(
        args.in_flight,
        [
            client.runs.create(tid, ASSISTANT, command=decision(i))  # type: ignore[arg-type]
            for i, tid in enumerate(ids)
        ],
    )
    submitted = time.perf_counter() - burst_at
    print(f"submitted {len(answers)} resumes in {submitted:.1f} s", flush=True)
    await sampler
    drain = trace[-1][0] if trace else float("nan")
    lost, doubled = [], []
    expected = {tid: float(i + 1) for i, tid in enumerate(ids)}
    values: dict[str, Any] = {}
    offset = 0
    while True:  # the bench's tenant holds only these threads (use a fresh tenant)
        page = await client.threads.search(limit=1000, offset=offset, sort_by="thread_id")
        values.update({t["thread_id"]: t.get("values") or {} for t in page})
        if len(page) < 1000:
            break
        offset += 1000
    for tid, amount in expected.items():
        amounts = [r.get("amount") for r in (values.get(tid) or {}).get("refunds") or []]
        if amount not in amounts:
            lost.append(tid)
        elif len(amounts) > 1:
            doubled.append(tid)
    await http.aclose()
    await client.aclose()
    gauges = [g for _, g, _ in trace if g is not None]
    return {
        "threads": n,
        "seed_s": round(seeded, 1),
        "submit_s": round(submitted, 1),
        "drain_s": round(drain, 1),
        "drain_runs_per_s": round(n / drain, 1) if drain else None,
        "gauge_max": max(gauges) if gauges else None,
        "trace": trace,
        "lost": len(lost),
        "doubled": len(doubled),
        "lost_samples": lost[:5],
        "doubled_samples": doubled[:5],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", default=None)
    parser.add_argument("--threads", type=int, default=10_000)
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--metrics-url", default=None)
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--json", default=None, help="write the result (with the trace) here")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(result, out)
    summary = {k: v for k, v in result.items() if k != "trace"}
    print(json.dumps(summary, indent=2))
    raise SystemExit(1 if result["lost"] or result["doubled"] else 0)


if __name__ == "__main__":
    main()
