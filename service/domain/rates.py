"""Request rate limits: GCRA (the generic cell rate algorithm), the one rule every limiter
adapter applies, in memory or inside Redis.

A key's state is its theoretical arrival time (TAT): when the key would be back to an empty
bucket. A request at ``now`` is allowed when ``TAT - burst * interval <= now``; it then moves
TAT to ``max(TAT, now) + interval``. Refused requests change nothing, so a client hammering
a limit does not push its own retry time further out.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rate:
    per_second: float  # sustained requests per second; 0 or less: no limit
    burst: int  # requests allowed at once above the sustained rate

    @property
    def enabled(self) -> bool:
        return self.per_second > 0

    @property
    def interval_ms(self) -> float:
        return 1000.0 / self.per_second

    @property
    def tolerance_ms(self) -> float:
        return self.interval_ms * max(1, self.burst)


NO_LIMIT = Rate(0, 0)


def gcra(tat_ms: float | None, now_ms: float, rate: Rate) -> tuple[float, float]:
    """``(new_tat_ms, retry_after_ms)`` for one request of a key whose TAT is ``tat_ms``
    (None: never seen); a retry time of 0 means allowed."""
    tat = now_ms if tat_ms is None else max(tat_ms, now_ms)
    allow_at = tat + rate.interval_ms - rate.tolerance_ms
    if now_ms < allow_at:
        return tat, allow_at - now_ms
    return tat + rate.interval_ms, 0.0
