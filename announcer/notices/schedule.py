"""What airs when: pure functions of (notices, times). Never reads the clock.

Notice times are wall-clock times in the station's zone (``tz``, Asia/Tokyo unless told
otherwise); every datetime here is zone-aware, and arguments in any zone are converted.
Like APScheduler's ``get_next_fire_time(previous, now)``, callers pass the instants.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Iterable, Iterator
from zoneinfo import ZoneInfo

import jpholiday

from announcer.core.clock import TOKYO
from announcer.notices.files import Notice

# How far next_airing looks ahead for a day that fits; beyond it the notice is
# treated as never airing (e.g. holidays: only on Saturdays).
HORIZON_DAYS = 400


@dataclass(frozen=True, order=True)
class Airing:
    """One notice due at one instant. ``order`` is the notice's position in the list
    given, so notices due at the same second (twins) sort in file order."""

    at: dt.datetime
    order: int
    notice_id: str


def airs_on(notice: Notice, day: dt.date) -> bool:
    """Whether ``notice`` airs at all on ``day`` (a date in the station's zone)."""
    if not notice.enabled:
        return False
    if notice.dates:
        return day in notice.dates
    if (notice.start and day < notice.start) or (notice.end and day > notice.end):
        return False
    if day.weekday() not in notice.days:
        return False
    if notice.holidays == "any":
        return True
    return jpholiday.is_holiday(day) == (notice.holidays == "only")


def next_airing(notice: Notice, after: dt.datetime, *, tz: ZoneInfo = TOKYO) -> dt.datetime | None:
    """The first instant strictly after ``after`` when ``notice`` airs, in ``tz``; None if never."""
    if not notice.enabled:
        return None
    for day in _candidate_days(notice, _local(after, tz).date()):
        if airs_on(notice, day):
            for at in _instants(notice, day, tz):
                if at > after:
                    return at
    return None


def airings_between(notices: Iterable[Notice], start: dt.datetime, end: dt.datetime,
                    *, tz: ZoneInfo = TOKYO) -> list[Airing]:
    """Every airing with ``start < at <= end``, sorted by (at, position in ``notices``)."""
    first, last = _local(start, tz).date(), _local(end, tz).date()
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    found = [
        Airing(at, order, notice.id)
        for order, notice in enumerate(notices)
        for day in days if airs_on(notice, day)
        for at in _instants(notice, day, tz) if start < at <= end
    ]
    found.sort()
    return found


def classify_missed(notices: Iterable[Notice], last_alive: dt.datetime, now: dt.datetime,
                    *, tz: ZoneInfo = TOKYO) -> tuple[list[Airing], list[Airing]]:
    """Split the airings in ``(last_alive, now]`` into (air now, missed).

    An airing late by at most its notice's grace airs now; older ones are missed. A
    notice airs now at most once: its earlier late airings count as missed, so a short
    outage never reads the same notice twice back to back.
    """
    notices = list(notices)
    air_now: dict[str, Airing] = {}
    missed: list[Airing] = []
    for airing in airings_between(notices, last_alive, now, tz=tz):
        if now - airing.at > notices[airing.order].grace:
            missed.append(airing)
            continue
        superseded = air_now.pop(airing.notice_id, None)
        if superseded is not None:
            missed.append(superseded)
        air_now[airing.notice_id] = airing
    return sorted(air_now.values()), sorted(missed)


def _local(when: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"schedule needs aware datetimes, got {when!r}")
    return when.astimezone(tz)


def _candidate_days(notice: Notice, first: dt.date) -> Iterator[dt.date]:
    if notice.dates:
        yield from (day for day in notice.dates if day >= first)
        return
    day = max(first, notice.start or first)
    stop = first + dt.timedelta(days=HORIZON_DAYS)
    if notice.end is not None:
        stop = min(stop, notice.end)
    while day <= stop:
        yield day
        day += dt.timedelta(days=1)


def _instants(notice: Notice, day: dt.date, tz: ZoneInfo) -> Iterator[dt.datetime]:
    for t in notice.times:
        yield dt.datetime.combine(day, t, tzinfo=tz)
