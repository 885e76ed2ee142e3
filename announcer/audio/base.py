"""The output seam: whatever owns the sound card pulls audio from the playout engine.

An output calls ``pull(frames)`` at the pace of real time and gets back that many
float32 samples plus a tag naming what is on air (None when idle). It reports its
health through ``on_health(ok, detail)`` so the engine can fail items it cannot air.
"""

from typing import Callable, Protocol

import numpy as np

Pull = Callable[[int], tuple[np.ndarray, str | None]]
HealthListener = Callable[[bool, str], None]


def to_int16(x: np.ndarray) -> np.ndarray:
    """float32 samples (−1..1) as little-endian 16-bit PCM, clipped."""
    return np.round(np.clip(x, -1.0, 1.0) * 32767.0).astype("<i2")


class Output(Protocol):
    def start(self, pull: Pull, on_health: HealthListener) -> None:
        """Begin pulling. Must not raise for a missing device: report it as unhealthy."""

    def stop(self) -> None:
        """Stop pulling and release the device. Idempotent."""

    @property
    def healthy(self) -> bool: ...

    @property
    def latency(self) -> float:
        """Seconds between a pull and the sound leaving the device."""

    @property
    def detail(self) -> str:
        """A short human-readable state, e.g. the device name or the last error."""
