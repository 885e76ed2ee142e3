"""How the JMA intake is doing, for staff: one condition on the events bus.

Rules: ``JMA_INTAKE`` is bad (``ok=False``, a Japanese detail naming every reason)
while the inbox has a backlog (more ready files than one scan takes, or more entries
than a scan looks at), while a file or a feed message was rejected in the last
``WINDOW`` seconds, or while a file or a feed overran its time budget in that window;
it is fine again once none of these holds. It is published when it changes, and again
every ``REPEAT`` seconds. ``oneline`` makes names and titles safe for one log line (a
newline in a file name or a title must not forge another line).
"""

import threading
import time
import unicodedata

from announcer.core import events

WINDOW = 600.0     # seconds a rejection or an overrun keeps the intake "not ok"
REPEAT = 60.0


def oneline(text, limit: int = 200) -> str:
    """``text`` with control and line-separator characters shown as escapes."""
    out = []
    for ch in str(text)[:limit]:
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs"):
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    return "".join(out)


class Intake:
    def __init__(self, monotonic=time.monotonic, publish=events.publish):
        self.monotonic, self.publish = monotonic, publish
        self._lock = threading.Lock()
        self._rejected: list[tuple[float, str]] = []
        self._overran: list[tuple[float, str]] = []
        self.backlog = 0
        self._last: tuple | None = None
        self._published = 0.0

    def rejected(self, what: str) -> None:
        with self._lock:
            self._rejected = self._recent(self._rejected) + [(self.monotonic(), what)]

    def overran(self, what: str) -> None:
        with self._lock:
            self._overran = self._recent(self._overran) + [(self.monotonic(), what)]

    def set_backlog(self, n: int) -> None:
        self.backlog = max(0, int(n))

    def _recent(self, marks: list) -> list:
        cutoff = self.monotonic() - WINDOW
        return [m for m in marks if m[0] >= cutoff][-50:]

    def problems(self) -> list[str]:
        with self._lock:
            self._rejected = self._recent(self._rejected)
            self._overran = self._recent(self._overran)
            rejected, overran = list(self._rejected), list(self._overran)
        out = []
        if self.backlog:
            out.append(f"受信フォルダに、まだ読んでいないファイルが {self.backlog} 件あります")
        if rejected:
            out.append(f"この {int(WINDOW // 60)} 分に受け付けなかった電文が {len(rejected)} 件あります"
                       f"（最後: {rejected[-1][1]}。受信フォルダの rejected/ と記録を確認してください）")
        if overran:
            out.append(f"この {int(WINDOW // 60)} 分に、時間がかかりすぎて打ち切った電文・フィードが "
                       f"{len(overran)} 件あります（最後: {overran[-1][1]}）")
        return out

    def report(self) -> None:
        """Publish ``JMA_INTAKE`` if it changed (or every ``REPEAT`` seconds)."""
        problems = self.problems()
        state = (not problems, "; ".join(problems))
        now = self.monotonic()
        if state != self._last or now - self._published >= REPEAT:
            self._last, self._published = state, now
            self.publish(events.JMA_INTAKE, "intake", state[0],
                         state[1] or "気象庁の情報の受け取りは正常です")
