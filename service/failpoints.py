"""Failpoints: make a process die (or stall) at a named point, for fault tests.

``HITL_FAILPOINTS=after_claim=exit:137,mid_graph=sleep:30`` arms them; they do nothing
unless ``HITL_TEST=1`` as well, so production processes can never be told to crash.

Points: after_claim, mid_graph, after_checkpoint_before_finalize, after_finalize_before_ack,
webhook_mid_send (and after_effect_before_checkpoint, which lives in the test graph).

``HITL_TRANSIENT_FAULTS=0.05`` (with ``HITL_TEST=1``): that share of the statements on the
service tables fail before they are sent, as a broken connection would (R19).
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

Failpoint = Callable[[str], None]


def disabled(_name: str) -> None:
    return None


def parse(spec: str) -> dict[str, tuple[str, float]]:
    points: dict[str, tuple[str, float]] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, action = item.partition("=")
        kind, _, arg = action.partition(":")
        if kind not in ("exit", "sleep") or not name:
            raise ValueError(f"bad failpoint {item!r}: use name=exit:CODE or name=sleep:SECONDS")
        points[name] = (kind, float(arg or 0))
    return points


def build(enabled: bool, spec: str) -> Failpoint:
    """The failpoint hook of this process: a no-op unless enabled and armed."""
    if not enabled or not spec.strip():
        return disabled
    points = parse(spec)
    log.warning("failpoints armed: %s", sorted(points))

    def fire(name: str) -> None:
        action = points.get(name)
        if action is None:
            return
        kind, arg = action
        if kind == "exit":
            log.warning("failpoint %s: exiting with %d", name, int(arg))
            os._exit(int(arg))
        time.sleep(arg)  # a stall that blocks the whole process, like a GC pause

    return fire


def transient_fault(rate: float) -> Callable[[], bool]:
    """Whether the next statement fails (R19); never when ``rate`` is 0."""
    if rate <= 0:
        return lambda: False
    log.warning("transient faults armed: %.1f %% of statements fail", rate * 100)
    draw = random.Random()  # noqa: S311 - picks faults to inject, nothing secret
    return lambda: draw.random() < rate
