"""An in-memory output for fast tests: the test pulls, and can make it fail."""

import numpy as np

from announcer.audio.base import HealthListener, Pull


class FakeOutput:
    def __init__(self, rate: int = 48000, blocksize: int = 480, clock=None):
        self.rate, self.blocksize, self.clock = rate, blocksize, clock
        self.blocks: list[tuple[np.ndarray, str | None]] = []
        self._pull: Pull | None = None
        self._on_health: HealthListener | None = None
        self._healthy = True
        self.detail = "fake"
        self.started = False

    @property
    def healthy(self) -> bool:
        return self._healthy

    latency = 0.0

    def start(self, pull: Pull, on_health: HealthListener) -> None:
        self._pull, self._on_health, self.started = pull, on_health, True
        on_health(self._healthy, self.detail)

    def stop(self) -> None:
        self.started = False

    def run(self, seconds: float) -> None:
        """Pull ``seconds`` of audio, advancing the fake clock block by block."""
        for _ in range(int(round(seconds * self.rate / self.blocksize))):
            if self.clock is not None:
                self.clock.advance(self.blocksize / self.rate)
            if self._healthy:
                self.blocks.append(self._pull(self.blocksize))

    def fail(self, detail: str = "unplugged") -> None:
        self._healthy, self.detail = False, detail
        self._on_health(False, detail)

    def recover(self) -> None:
        self._healthy, self.detail = True, "fake"
        self._on_health(True, self.detail)

    def tags(self) -> list[str | None]:
        """The on-air tag of each pulled block, consecutive repeats collapsed."""
        out: list[str | None] = []
        for _, tag in self.blocks:
            if not out or out[-1] != tag:
                out.append(tag)
        return out

    def audio(self) -> np.ndarray:
        return np.concatenate([b for b, _ in self.blocks]) if self.blocks else np.zeros(0)
