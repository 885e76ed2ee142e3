"""Grouping events into episodes: what deserves a message, and when. Pure: times are given.

Rules, per ``(kind, key)``:
- A condition (audio, silence, a broken file …) opens an episode on its first ``ok=False``:
  one ``alarm``. More ``ok=False`` while it lasts only update the detail. While it lasts, a
  ``reminder`` every ``repeat`` seconds (0: none). ``ok=True`` ends it with one
  ``recovered`` — once it has stayed fine for ``settle`` seconds, so a device that flaps
  (bad, fine for a moment, bad again) stays one episode and one pair of messages.
- A one-shot kind (a failed airing) sends its first event at once, then groups the same
  key for ``repeat`` seconds: at the end of that window one ``repeat`` message counts what
  came after the first (nothing is sent if nothing came).
- Open episodes survive a restart (``snapshot`` / ``restore``, saved by the service). A
  restored condition is *unconfirmed*: an ``ok=False`` within its grace confirms it
  (no second alarm), an ``ok=True`` ends it as usual; if neither comes within the grace,
  nothing reports it any more, so it ends with a ``recovered`` dated at the restart.
"""

from dataclasses import asdict, dataclass, fields

from announcer.core.events import ONE_SHOT, Event

ALARM, REMINDER, RECOVERED, REPEAT = "alarm", "reminder", "recovered", "repeat"
SETTLE = 10.0  # seconds a condition must stay fine before the recovery message


@dataclass(frozen=True)
class Alert:
    """One message to send. ``since`` is when the episode began, ``until`` when it ended
    (recovered) or the last event of a group (repeat); times are epoch seconds."""
    state: str
    kind: str
    key: str
    detail: str
    since: float
    at: float
    until: float | None = None
    count: int = 1


@dataclass
class _Episode:
    kind: str
    key: str
    detail: str
    since: float
    last_sent: float
    fine_since: float | None = None
    fine_detail: str = ""  # what the condition says now that it is fine
    count: int = 1
    last_at: float = 0.0
    unconfirmed_until: float | None = None  # restored: ends unless confirmed by then
    restored_at: float | None = None


UNCONFIRMED = "再起動のあと、この問題はもう報告されていません（回復したとみなします）"


class Episodes:
    def __init__(self, repeat: float, settle: float = SETTLE):
        self.repeat, self.settle = repeat, settle
        self._open: dict[tuple[str, str], _Episode] = {}

    def open(self) -> list[tuple[str, str]]:
        """The (kind, key) of every episode still open."""
        return list(self._open)

    def unconfirmed(self) -> set[tuple[str, str]]:
        """Restored conditions not yet reported again."""
        return {ident for ident, ep in self._open.items() if ep.unconfirmed_until is not None}

    def snapshot(self) -> list[dict]:
        """Every open episode as plain data (JSON-able), for saving."""
        return [asdict(ep) for ep in self._open.values()]

    def restore(self, rows, now: float, grace) -> int:
        """Take back saved episodes after a restart; ``grace(kind)`` is how long a
        condition has to be reported again (None: until it is). Rows that do not fit are skipped (a damaged
        save must not stop the alerts). Returns how many were taken."""
        names = {f.name for f in fields(_Episode)}
        taken = 0
        for row in rows if isinstance(rows, list) else []:
            try:
                ep = _Episode(**{k: v for k, v in row.items() if k in names})
                float(ep.since), float(ep.last_sent)
            except (TypeError, ValueError, AttributeError):
                continue
            if not (isinstance(ep.kind, str) and isinstance(ep.key, str)):
                continue
            wait = None if ep.kind in ONE_SHOT else grace(ep.kind)
            ep.unconfirmed_until = None if wait is None else now + wait
            ep.restored_at = now
            self._open[(ep.kind, ep.key)] = ep
            taken += 1
        return taken

    def feed(self, event: Event, now: float) -> list[Alert]:
        """The alerts ``event`` causes right away."""
        if event.kind in ONE_SHOT:
            return self._one_shot(event, now)
        episode = self._open.get((event.kind, event.key))
        if event.ok:
            if episode is not None and episode.fine_since is None:
                episode.fine_since = event.at
                episode.unconfirmed_until = None
            if episode is not None:
                episode.fine_detail = event.detail
            return []
        if episode is None:
            self._open[(event.kind, event.key)] = _Episode(
                event.kind, event.key, event.detail, event.at, last_sent=now)
            return [Alert(ALARM, event.kind, event.key, event.detail, event.at, now)]
        episode.fine_since = episode.unconfirmed_until = None
        episode.detail = event.detail or episode.detail
        return []

    def _one_shot(self, event: Event, now: float) -> list[Alert]:
        group = self._open.get((event.kind, event.key))
        if event.ok:
            return []
        if group is None or self.repeat <= 0:
            if self.repeat > 0:
                self._open[(event.kind, event.key)] = _Episode(
                    event.kind, event.key, event.detail, event.at, last_sent=now,
                    count=0, last_at=event.at)
            return [Alert(ALARM, event.kind, event.key, event.detail, event.at, now)]
        group.count += 1
        group.detail, group.last_at = event.detail, event.at
        return []

    def due(self, now: float) -> list[Alert]:
        """Reminders, recoveries and group summaries due at ``now``."""
        alerts = []
        for ident, ep in list(self._open.items()):
            if ep.unconfirmed_until is not None and now >= ep.unconfirmed_until:
                ep.unconfirmed_until, ep.fine_since = None, ep.restored_at
                ep.detail = UNCONFIRMED
            if ep.kind in ONE_SHOT:
                if now - ep.since >= self.repeat:
                    del self._open[ident]
                    if ep.count:
                        alerts.append(Alert(REPEAT, ep.kind, ep.key, ep.detail, ep.since, now,
                                            until=ep.last_at, count=ep.count))
            elif ep.fine_since is not None and now - ep.fine_since >= self.settle:
                del self._open[ident]
                # the recovery says how it is now (the disk's free space), not the alarm
                alerts.append(Alert(RECOVERED, ep.kind, ep.key, ep.fine_detail, ep.since, now,
                                    until=ep.fine_since))
            elif self.repeat > 0 and ep.fine_since is None and now - ep.last_sent >= self.repeat:
                ep.last_sent = now
                alerts.append(Alert(REMINDER, ep.kind, ep.key, ep.detail, ep.since, now))
        return alerts

    def next_due(self, now: float) -> float | None:
        """Seconds until ``due`` may have something (for the caller's wait)."""
        times = []
        for ep in self._open.values():
            if ep.unconfirmed_until is not None:
                times.append(ep.unconfirmed_until)
            if ep.kind in ONE_SHOT:
                times.append(ep.since + self.repeat)
            elif ep.fine_since is not None:
                times.append(ep.fine_since + self.settle)
            elif self.repeat > 0:
                times.append(ep.last_sent + self.repeat)
        return max(0.0, min(times) - now) if times else None
