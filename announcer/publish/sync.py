"""``publish.command``: copy the public folder elsewhere (an rsync to the city's web
server) after each update, in the background.

Rules:
- ``request()`` never blocks: it marks the folder changed and wakes the sync thread.
  Updates that come while a run is going are coalesced into one more run after it.
- A run is the command as a list of arguments (no shell), at low CPU priority (nice 10),
  with the folder as its working directory, stdin closed, and at most ``timeout`` seconds
  (then it is killed).
- A failed run is retried after 10 s, 20 s, 40 s … up to ``MAX_BACKOFF``, even without a
  new update; a run that succeeds resets the backoff.
- Failures are a condition on the events bus (``PUBLISH``, key ``command``): ``ok=False``
  on each failure (the alerts group them into one episode), ``ok=True`` once a run
  succeeds. The command never touches the air: it only ever runs in this thread.
"""

import logging
import shutil
import subprocess
import threading
import time
from pathlib import Path

from announcer.core import events

log = logging.getLogger(__name__)
FIRST_BACKOFF = 10.0
MAX_BACKOFF = 600.0


class Sync:
    def __init__(self, command: tuple[str, ...], folder: Path, timeout: float,
                 publish=events.publish):
        self.command, self.folder, self.timeout = tuple(command), Path(folder), timeout
        self._publish = publish
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._pending = False
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.first_backoff = FIRST_BACKOFF
        self.runs = 0
        self.failures = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="publish-sync", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def request(self) -> None:
        with self._lock:
            self._pending = True
        self._wake.set()

    def _loop(self) -> None:
        backoff, next_at, failing = 0.0, 0.0, False
        while not self._stop.is_set():
            self._wake.wait(max(0.0, next_at - time.monotonic()) if failing else None)
            self._wake.clear()
            if self._stop.is_set():
                return
            if time.monotonic() < next_at:
                continue  # an update during the backoff: it goes out with the retry
            with self._lock:
                due, self._pending = self._pending or failing, False
            if not due:
                continue
            if self._run():
                backoff, next_at, failing = 0.0, 0.0, False
            else:
                backoff = min(MAX_BACKOFF, backoff * 2 if backoff else self.first_backoff)
                next_at, failing = time.monotonic() + backoff, True

    def _run(self) -> bool:
        self.runs += 1
        started = time.monotonic()
        try:
            nice = ["nice", "-n", "10"] if shutil.which("nice") else []  # the air comes first
            result = subprocess.run(nice + list(self.command), cwd=self.folder,
                                    stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    timeout=self.timeout)
            ok = result.returncode == 0
            why = "" if ok else _last_line(result.stderr) or f"終了コード {result.returncode}"
        except subprocess.TimeoutExpired:
            ok, why = False, f"{self.timeout:g} 秒で終わりませんでした"
        except OSError as exc:
            ok, why = False, f"実行できません: {exc}"
        if ok:
            log.info("publish.command done in %.1f s", time.monotonic() - started)
            self._publish(events.PUBLISH, "command", True, "")
            return True
        self.failures += 1
        log.warning("publish.command failed: %s", why)
        self._publish(events.PUBLISH, "command", False,
                      f"公開用のコマンド（{self.command[0]}）が失敗しました: {why}")
        return False


def _last_line(data: bytes) -> str:
    lines = [x.strip() for x in data.decode("utf-8", "replace").splitlines() if x.strip()]
    return lines[-1][:200] if lines else ""
