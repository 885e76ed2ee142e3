"""Clocks. Domain code takes a clock instead of reading the time itself.

Rules: the wall clock (``now``) only says what is due; intervals, timeouts and the pace
of the station's own jobs are measured on the monotonic clock, which never steps.
``StepWatch`` notices when the wall clock steps (NTP, an operator, a wrong RTC at boot)
and tells the daemon, which re-times its jobs and logs it.
"""

import datetime as dt
import logging
import os
import threading
import time
import zoneinfo
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)
TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")
SHIFT_ENV = "ANNOUNCER_CLOCK_SHIFT_FILE"
STEP = 1.0  # seconds: a smaller change of wall minus monotonic is drift, not a step


class SystemClock:
    """Wall-clock time in the station's zone, and a monotonic counter for intervals.
    ``shift`` (seconds, a callable) moves the wall clock only: the test hook that steps
    a running daemon's clock without touching the machine's (see ``FileShift``)."""

    def __init__(self, tz=TOKYO, shift: Callable[[], float] | None = None):
        self.tz = tz
        self.shift = shift

    def now(self) -> dt.datetime:
        now = dt.datetime.now(self.tz)
        return now + dt.timedelta(seconds=self.shift()) if self.shift else now

    def monotonic(self) -> float:
        return time.monotonic()


class FileShift:
    """Seconds to add to the wall clock, read from a file (re-read at most every 0.1 s):
    how tests step the real daemon's clock (``ANNOUNCER_CLOCK_SHIFT_FILE``).
    libfaketime broke ``time.sleep`` across threads here, and stepping the machine's own
    clock would disturb everything else on it."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._value, self._read_at = 0.0, -1.0

    @classmethod
    def from_env(cls) -> "FileShift | None":
        path = os.environ.get(SHIFT_ENV)
        return cls(Path(path)) if path else None

    def __call__(self) -> float:
        mono = time.monotonic()
        if mono - self._read_at >= 0.1:
            self._read_at = mono
            try:
                self._value = float(self.path.read_text().strip() or 0)
            except (OSError, ValueError):
                pass
        return self._value


class StepWatch:
    """Watches the wall clock against the monotonic clock: a change of their difference
    by ``STEP`` seconds or more is a step; ``on_step(seconds)`` hears it (positive:
    forward), from the watch's own thread, which waits on the monotonic clock only."""

    def __init__(self, clock, on_step: Callable[[float], None], interval: float = 0.5,
                 threshold: float = STEP):
        self.clock, self.on_step = clock, on_step
        self.interval, self.threshold = interval, threshold
        self._offset = self._measure()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _measure(self) -> float | None:
        before = self.clock.monotonic()
        wall = self.clock.now().timestamp()
        after = self.clock.monotonic()
        if after - before > 0.05:  # preempted between the reads: not a fair look
            return None
        return wall - (before + after) / 2

    def check(self) -> float | None:
        """One look: the step seen since the last look (seconds), or None."""
        offset = self._measure()
        if offset is None:
            return None
        if self._offset is None:
            self._offset = offset
            return None
        # compared with the last look only: slewing (NTP's ≤ 0.5 ms/s) never adds up
        step, self._offset = offset - self._offset, offset
        return step if abs(step) >= self.threshold else None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="clock-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                step = self.check()
                if step is not None:
                    self.on_step(step)
            except Exception:  # watching the clock must never take the daemon down
                log.exception("clock watch failed")


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

    def step(self, seconds: float) -> None:
        """The wall clock alone jumps (NTP, an operator): monotonic time does not move."""
        self._now += dt.timedelta(seconds=seconds)
