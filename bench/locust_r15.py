"""R15 load knee: the locust user of ``tests/reliability/test_load_knee.py``.

    .venv/bin/locust -f bench/locust_r15.py --headless -u N -r 10 -t 5m --csv OUT \\
        --host http://127.0.0.1:PORT

Each user loops over the human-in-the-loop cycle of a reviewer's agent, asynchronously as the
catalogue's clients do (``Prefer: respond-async``, then join):

1. ``POST /threads``
2. ``POST /runs``: start ``refund_agent`` on it (202), ``join`` until it pauses at the interrupt
3. ``GET state``: what the reviewer is asked
4. ``resume``: ``POST /threads/{id}/runs`` with ``command.resume`` (202), ``join`` to the end
5. ``GET state``: the final values

Requests are named by step, so locust's CSV has one row per step (``POST /runs``, ``resume``
and ``GET state`` are the catalogue's p95 bounds; every ``POST /runs`` and ``resume`` is a
run start). ``COUNTERSIGN_TOKEN`` is the bearer token; ``COUNTERSIGN_HOSTS`` (comma separated)
spreads the users over several API processes, user ``n`` on host ``n mod len``.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

from locust import FastHttpUser, task

REQUEST = {"request": {"order_id": "A-1", "amount": 42, "customer": "Ada", "reason": "broken"}}
ASYNC = {"Prefer": "respond-async"}
_numbers = itertools.count()


class Reviewer(FastHttpUser):
    """One agent-and-reviewer pair, back to back (no think time: the load is the user count)."""

    def on_start(self) -> None:
        hosts = [h for h in os.environ.get("COUNTERSIGN_HOSTS", "").split(",") if h]
        self.base = hosts[next(_numbers) % len(hosts)] if hosts else ""
        self.headers = {"Authorization": f"Bearer {os.environ['COUNTERSIGN_TOKEN']}"}

    def _call(self, method: str, path: str, name: str, status: int, **kwargs: Any) -> Any:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        with self.client.request(
            method, self.base + path, name=name, headers=headers, catch_response=True, **kwargs
        ) as answer:
            if answer.status_code != status:
                answer.failure(f"{answer.status_code}: {(answer.text or '')[:200]}")
                return None
            return answer.json()

    @task
    def cycle(self) -> None:
        thread = self._call("POST", "/threads", "POST /threads", 200, json={})
        if thread is None:
            return
        runs = f"/threads/{thread['thread_id']}/runs"
        state = f"/threads/{thread['thread_id']}/state"
        run = self._call(
            "POST",
            runs,
            "POST /runs",
            202,
            headers=ASYNC,
            json={"assistant_id": "refund_agent", "input": REQUEST},
        )
        if run is None or self._call("GET", f"{runs}/{run['run_id']}/join", "join", 200) is None:
            return
        paused = self._call("GET", state, "GET state", 200)
        if paused is None:
            return
        if not paused.get("interrupts"):
            self.environment.events.request.fire(
                request_type="CHECK",
                name="paused at the interrupt",
                response_time=0,
                response_length=0,
                exception=AssertionError("the run did not stop at the interrupt"),
            )
            return
        decision = {"type": "accept", "args": None}
        resumed = self._call(
            "POST",
            runs,
            "resume",
            202,
            headers=ASYNC,
            json={"assistant_id": "refund_agent", "command": {"resume": decision}},
        )
        if resumed is None:
            return
        if self._call("GET", f"{runs}/{resumed['run_id']}/join", "join", 200) is not None:
            self._call("GET", state, "GET state", 200)
