"""The systemd watchdog: ``WATCHDOG=1`` only while playout is making progress.

Rules: every ``interval`` seconds, ping systemd if and only if, within ``limit`` seconds,
- the engine's housekeeping (``Engine.tick``) has run, and
- either the audio callback completed a pull from the engine (the output plays), or the
  output is down for a device reason (not an exception in playout) and its reopen loop
  is turning.
Otherwise no ping, and the reason is logged once per episode: with ``WatchdogSec`` in
the unit, systemd restarts a daemon whose engine or audio path hung. The check is a
pure function of the probes and the clock, so it is tested with a fake clock.
"""

import logging
import threading
from typing import Callable

log = logging.getLogger(__name__)
LIMIT = 10.0  # seconds without progress before the pings stop (WatchdogSec=30 in the unit)


def stalled(now: float, engine, output, limit: float = LIMIT) -> str | None:
    """Why playout is not making progress, or None when it is."""
    if now - engine.last_tick > limit:
        return f"the playout engine has not run for {now - engine.last_tick:.0f} s"
    if now - engine.last_pull <= limit:
        return None
    if getattr(output, "playout_failing", False):
        return "the audio thread fails in playout"
    if output.healthy:
        return f"the audio callback has not pulled for {now - engine.last_pull:.0f} s"
    progress = getattr(output, "progress", None)
    if progress is not None and now - progress > limit:
        return f"the audio reopen loop has not run for {now - progress:.0f} s"
    return None


class Watchdog:
    def __init__(self, clock, engine, output, notify: Callable[[str], None],
                 interval: float = 2.0, limit: float = LIMIT):
        self.clock, self.engine, self.output, self.notify = clock, engine, output, notify
        self.interval, self.limit = interval, limit
        self.pings = 0
        self._reason: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> bool:
        """One turn: ping if playout progresses. Returns whether it pinged."""
        reason = stalled(self.clock.monotonic(), self.engine, self.output, self.limit)
        if reason != self._reason:
            if reason:
                log.critical("Watchdog: %s; no more pings, systemd will restart us", reason)
            elif self._reason:
                log.warning("Watchdog: playout progresses again (%s is over)", self._reason)
            self._reason = reason
        if reason:
            return False
        self.notify("WATCHDOG=1")
        self.pings += 1
        return True

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=2)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:  # the watchdog itself must never take the daemon down
                log.exception("watchdog check failed")
