"""Silence detection on what goes out: pure, fed one block of level at a time.

Rules:
- A block is silent when its RMS level is below ``threshold`` dBFS, or when there is no
  level at all (the monitor input is down: we cannot hear the air, so we assume the worst).
- ``silence_seconds`` of silent blocks in a row raise the silence alarm; any loud block
  restarts that count.
- While our own item is on air, ``on_air_seconds`` of silent blocks (all of them on air)
  raise the gravest alarm: we think we are on air, the listeners hear nothing.
- Both alarms clear once ``clear_seconds`` of loud blocks follow each other.
"""

import math
from dataclasses import dataclass

from announcer.core.events import ON_AIR_SILENCE, SILENCE

FLOOR = -120.0  # dBFS reported for digital silence


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
                 clear_seconds: float = 1.0):
        self.threshold = threshold
        self.silence_seconds, self.on_air_seconds = silence_seconds, on_air_seconds
        self.clear_seconds = clear_seconds
        self.silent_since: float | None = None
        self.on_air_since: float | None = None
        self.loud_since: float | None = None
        self.alarm = self.grave = False

    def silent_for(self, now: float) -> float:
        return 0.0 if self.silent_since is None else max(0.0, now - self.silent_since)

    def feed(self, t: float, seconds: float, level: float | None, on_air: bool) -> list[Change]:
        """One block starting at ``t`` (monotonic seconds), ``seconds`` long; ``level`` in
        dBFS or None (no input). Returns the alarms raised or cleared by it."""
        end = t + seconds
        if level is not None and level >= self.threshold:
            return self._loud(t, end)
        self.loud_since = None
        if self.silent_since is None:
            self.silent_since = t
        changes = []
        if not self.alarm and end - self.silent_since >= self.silence_seconds - 1e-9:
            self.alarm = True
            changes.append(Change(SILENCE, False, self.silent_since))
        if not on_air:
            self.on_air_since = None
        else:
            if self.on_air_since is None:
                self.on_air_since = t
            if not self.grave and end - self.on_air_since >= self.on_air_seconds - 1e-9:
                self.grave = True
                changes.append(Change(ON_AIR_SILENCE, False, self.on_air_since))
        return changes

    def _loud(self, t: float, end: float) -> list[Change]:
        self.silent_since = self.on_air_since = None
        if self.loud_since is None:
            self.loud_since = t
        if end - self.loud_since < self.clear_seconds - 1e-9:
            return []
        changes = []
        if self.grave:
            self.grave = False
            changes.append(Change(ON_AIR_SILENCE, True, self.loud_since))
        if self.alarm:
            self.alarm = False
            changes.append(Change(SILENCE, True, self.loud_since))
        return changes
