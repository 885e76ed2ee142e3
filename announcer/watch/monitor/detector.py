"""Silence detection on what goes out: pure, fed one block of level at a time.

Rules:
- A block is silent when its RMS level is below ``threshold`` dBFS, or when there is no
  level at all (the monitor input is down: we cannot hear the air, so we assume the worst).
- ``silence_seconds`` of silent blocks in a row raise the silence alarm; any loud block
  restarts that count.
- While our own item is on air, ``on_air_seconds`` of silent blocks (all of them on air)
  raise the gravest alarm: we think we are on air, the listeners hear nothing.
- Both alarms clear when the sound is back, judged on a window, not on an unbroken run:
  at least ``clear_fraction`` of the last ``clear_window`` seconds loud (by default 1.2 s
  of the last 3 s). Speech pauses between phrases and sentences (0.3–0.6 s of digital
  silence in our own bulletins), so an unbroken run of loud blocks may never come while
  only speech airs; a window counts it.
- An alarm raised before a restart can be handed in (``open_alarms``): it stays raised,
  clears the same way, and is confirmed again (one more alarm change) once
  ``silence_seconds`` of silence follow, so the alerts know it still holds.
"""

import collections
import math
from dataclasses import dataclass

from announcer.core.events import ON_AIR_SILENCE, SILENCE

FLOOR = -120.0  # dBFS reported for digital silence
CLEAR_WINDOW = 3.0     # seconds of history judged for "the sound is back"
CLEAR_FRACTION = 0.4   # share of that window that must be loud
EPS = 1e-9


def dbfs(power: float) -> float:
    """RMS level in dBFS of a mean square (full-scale sine: -3 dBFS)."""
    return max(FLOOR, 10 * math.log10(power)) if power > 0 else FLOOR


@dataclass(frozen=True)
class Change:
    kind: str      # SILENCE | ON_AIR_SILENCE
    ok: bool
    since: float   # when the silence (or the sound that cleared it) began


class SilenceDetector:
    def __init__(self, threshold: float, silence_seconds: float, on_air_seconds: float,
                 clear_window: float = CLEAR_WINDOW, clear_fraction: float = CLEAR_FRACTION,
                 open_alarms=()):
        self.threshold = threshold
        self.silence_seconds, self.on_air_seconds = silence_seconds, on_air_seconds
        self.clear_window, self.clear_fraction = clear_window, clear_fraction
        self.silent_since: float | None = None
        self.on_air_since: float | None = None
        self.alarm = SILENCE in open_alarms
        self.grave = ON_AIR_SILENCE in open_alarms
        self._unconfirmed = set(open_alarms) & {SILENCE, ON_AIR_SILENCE}
        self._loud: collections.deque = collections.deque()  # (start, end) of loud blocks
        self._loud_total = 0.0

    def silent_for(self, now: float) -> float:
        return 0.0 if self.silent_since is None else max(0.0, now - self.silent_since)

    def loud_in_window(self) -> float:
        """Seconds of loud blocks within the last ``clear_window`` seconds."""
        return self._loud_total

    def feed(self, t: float, seconds: float, level: float | None, on_air: bool) -> list[Change]:
        """One block starting at ``t`` (monotonic seconds), ``seconds`` long; ``level`` in
        dBFS or None (no input). Returns the alarms raised or cleared by it."""
        end = t + seconds
        loud = level is not None and level >= self.threshold
        if loud:
            self._loud.append((t, end))
            self._loud_total += seconds
        self._trim(end)
        if loud:
            return self._sound(end)
        if self.silent_since is None:
            self.silent_since = t
        changes = []
        silent = end - self.silent_since >= self.silence_seconds - EPS
        if silent and (not self.alarm or SILENCE in self._unconfirmed):
            self.alarm = True
            self._unconfirmed.discard(SILENCE)
            changes.append(Change(SILENCE, False, self.silent_since))
        if silent and ON_AIR_SILENCE in self._unconfirmed:  # still silent: still grave
            self._unconfirmed.discard(ON_AIR_SILENCE)
            changes.append(Change(ON_AIR_SILENCE, False, self.silent_since))
        if not on_air:
            self.on_air_since = None
        else:
            if self.on_air_since is None:
                self.on_air_since = t
            if not self.grave and end - self.on_air_since >= self.on_air_seconds - EPS:
                self.grave = True
                changes.append(Change(ON_AIR_SILENCE, False, self.on_air_since))
        return changes

    def _trim(self, end: float) -> None:
        """Forget loud time older than the window (a block straddling its start counts
        for the part inside)."""
        start = end - self.clear_window
        while self._loud and self._loud[0][0] < start - EPS:
            a, b = self._loud.popleft()
            self._loud_total -= b - a
            if b > start + EPS:
                self._loud.appendleft((start, b))
                self._loud_total += b - start
                break
        if not self._loud:
            self._loud_total = 0.0

    def _sound(self, end: float) -> list[Change]:
        self.silent_since = self.on_air_since = None
        if not (self.alarm or self.grave):
            return []
        if self._loud_total < self.clear_fraction * self.clear_window - EPS:
            return []
        since = self._loud[0][0]
        changes = []
        if self.grave:
            self.grave = False
            changes.append(Change(ON_AIR_SILENCE, True, since))
        if self.alarm:
            self.alarm = False
            changes.append(Change(SILENCE, True, since))
        self._unconfirmed.clear()
        return changes
