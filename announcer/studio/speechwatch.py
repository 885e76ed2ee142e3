"""Whether the speech workers are crashing: the ``speech`` condition on the trouble bus.

Rules:
- One isolated crash is retried by the pool and costs nothing audible: it is only
  logged. ``STORM`` crashes within ``WINDOW`` seconds (a request given up after its
  retry is already two) make the condition bad at once, with the count and the last
  error, so the staff page is never green while bulletins lose sentences.
- It is fine again once a worker answered after the last crash and no crash happened
  for ``HOLD`` seconds (a storm does not flicker green). A quiet station is probed by
  ``tick`` (a ping, which restarts a dead worker) once ``HOLD`` has passed, so it does
  not stay red only because nothing needed speech since.
- Listeners run on synthesis threads: they only count and publish (which never blocks).
"""

import logging
import threading
import time
from collections import deque

from announcer.core import events

log = logging.getLogger(__name__)


class SpeechWatch:
    WINDOW = 60.0
    STORM = 2
    HOLD = 30.0

    def __init__(self, publish=None, monotonic=time.monotonic):
        self._publish = publish or events.publish
        self._now = monotonic
        self._lock = threading.Lock()
        self._crashes: deque[float] = deque()
        self._last_crash = 0.0
        self._answered = False  # a worker answered after the last crash
        self._detail = ""
        self.bad = False
        self._probing = False

    def listener(self, group: str):
        """The pool's ``listener(ok, detail)`` for one worker group ("synthesis", "dsp")."""
        return lambda ok, detail: self.heard(group, ok, detail)

    def heard(self, group: str, ok: bool, detail: str) -> None:
        with self._lock:
            now = self._now()
            if not ok:
                self._crashes.append(now)
                while self._crashes and now - self._crashes[0] > self.WINDOW:
                    self._crashes.popleft()
                self._last_crash, self._answered = now, False
                count = len(self._crashes)
                self._detail = (f"{int(self.WINDOW)} 秒間に {count} 回、音声合成の処理が異常終了し"
                                f"再起動しました（最後: {group}: {detail}）")
                publish = count >= self.STORM
                if publish:
                    self.bad = True
            else:
                self._answered = True
                publish = self.bad and now - self._last_crash >= self.HOLD
                if publish:
                    self.bad = False
            state, text = not self.bad, self._detail
        if publish:
            if state:
                log.info("Speech workers answer again")
            else:
                log.error("Speech workers are crashing: %s", text)
            self._publish(events.SPEECH, "workers", state, "" if state else text)

    def tick(self, probe) -> None:
        """Once a second (the station's heartbeat): after HOLD quiet seconds with no
        answer, ``probe()`` the workers on a thread of its own (never blocks)."""
        with self._lock:
            if not self.bad or self._now() - self._last_crash < self.HOLD:
                return
            answered = self._answered
            if not answered:
                if self._probing:
                    return
                self._probing = True
        if answered:  # a worker answered during the hold: fine now
            self.heard("workers", True, "")
            return

        def run():
            try:
                probe()  # an answer reaches ``heard`` through the pool's listener
            except Exception as exc:
                log.warning("Speech workers do not answer yet: %s", exc)
            finally:
                with self._lock:
                    self._probing = False
        threading.Thread(target=run, name="speech-probe", daemon=True).start()
