"""Cron schedules: standard 5-field expressions (a 6th field is seconds; @daily and the other
aliases), read in an IANA
time zone (UTC when none), and the next firing after a moment."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError, croniter

from service.errors import InvalidInput

MAX_SCHEDULE = 200


def zone(name: str | None) -> tzinfo:
    """The time zone a schedule is read in; 422 for a name the IANA database lacks."""
    if name is None:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(f"Unknown time zone {name!r}; use an IANA name such as UTC.") from exc


def check_schedule(schedule: str) -> str:
    """``schedule`` stripped, if croniter reads it as 5 or 6 fields; 422 otherwise."""
    text = schedule.strip()
    fields = len(text.split())
    alias = text.startswith("@") and fields == 1  # @hourly, @daily, @weekly ...
    if not text or len(text) > MAX_SCHEDULE or (fields not in (5, 6) and not alias):
        raise InvalidInput(
            "schedule must be a cron expression of 5 fields (minute hour day month weekday), "
            "or 6 with seconds last."
        )
    if not croniter.is_valid(text):
        raise InvalidInput(f"Invalid cron schedule {schedule!r}.")
    next_run(text, None, datetime.now(UTC))  # one that never fires (Feb 30) is refused too
    return text


def next_run(schedule: str, timezone: str | None, after: datetime) -> datetime:
    """The first firing of ``schedule`` strictly after ``after``, in UTC."""
    local = after.astimezone(zone(timezone))
    try:
        found: datetime = croniter(schedule, local).get_next(datetime)
    except (CroniterError, ValueError, KeyError) as exc:
        raise InvalidInput(f"The schedule {schedule!r} never fires.") from exc
    return found.astimezone(UTC)


def next_due(
    schedule: str, timezone: str | None, after: datetime, end_time: datetime | None
) -> datetime | None:
    """The next firing after ``after``; None when it would come after ``end_time``."""
    found = next_run(schedule, timezone, after)
    if end_time is not None and found > end_time:
        return None
    return found
