"""Clocks. Domain code takes a clock instead of reading the time itself."""

import datetime as dt
import os
import time
import zoneinfo

TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")


class SystemClock:
    """Wall-clock time in the station's zone, and a monotonic counter for intervals."""

    def __init__(self, tz=TOKYO):
        self.tz = tz

    def now(self) -> dt.datetime:
        return dt.datetime.now(self.tz)

    def monotonic(self) -> float:
        return time.monotonic()


def process_started_at(tz=TOKYO) -> dt.datetime:
    """When this process was spawned (from /proc), or now where /proc is missing."""
    try:
        ticks = int(open("/proc/self/stat").read().rsplit(")", 1)[1].split()[19])
        uptime = float(open("/proc/uptime").read().split()[0])
        age = uptime - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        age = 0.0
    return dt.datetime.now(tz) - dt.timedelta(seconds=max(0.0, age))


class FakeClock:
    """A clock tests advance by hand; ``now()`` never moves on its own."""

    def __init__(self, start: dt.datetime):
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self.tz = start.tzinfo
        self._now = start
        self._mono = 1000.0

    def now(self) -> dt.datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self._now += dt.timedelta(seconds=seconds)
        self._mono += seconds

    def set(self, when: dt.datetime) -> None:
        self._mono += (when - self._now).total_seconds()
        self._now = when
