"""What the station tells about itself: status (on air, queue, next), health, and the
airings staff must look at.

Rules: reading never changes anything, except ``acknowledge`` (staff saw a partial or
failed airing). ``starting`` until speech is warm and the output first reported.
``status()`` and ``health()`` carry the same ``verdict`` (``announcer.station.verdict``):
the station's own fields plus every condition bad now on the trouble bus.
"""

import datetime as dt
import logging
from pathlib import Path

from announcer.core import events
from announcer.notices.editing import WEB_FOLDER
from announcer.station.verdict import verdict

log = logging.getLogger(__name__)


class StationHealth:
    def __init__(self, clock, studio, store, engine, output, notices):
        self.clock, self.studio, self.store = clock, studio, store
        self.engine, self.output, self._notices = engine, output, notices
        self.audio_detail = "not started"
        self.reported = False  # the output has reported at least once
        self.extras: dict = {}  # name -> callable: more /healthz fields (jma)
        self.bus = None  # where conditions bad now are read: None is the station's bus
        # The station's own faults ([{"kind", "detail"}]: the record, the cache, its jobs)
        # and a recent large wall-clock step (or None), for the verdict.
        self.faults = lambda: []
        self.recent_step = lambda: None

    def output_reported(self, detail: str) -> None:
        self.audio_detail = detail
        self.reported = True

    @property
    def audio_ok(self) -> bool:
        return self.output.healthy

    @property
    def state(self) -> str:
        """``starting`` until speech is warm and the output has first reported, then
        ``ok`` or ``degraded`` (the output cannot play)."""
        ready = getattr(self.studio, "ready", None)
        if not self.reported or (ready is not None and not ready.is_set()):
            return "starting"
        return "ok" if self.audio_ok else "degraded"

    def status(self) -> dict:
        current = self.engine.on_air()
        on_air = None
        if current is not None:
            on_air = {"kind": current.kind, "id": current.id, "title": current.title,
                      "started_at": current.started_at.isoformat(timespec="milliseconds")
                      if current.started_at else None}
        queue = [{"kind": i.kind, "id": i.id, "title": i.title,
                  "scheduled_at": i.scheduled_at.isoformat() if i.scheduled_at else None,
                  "interrupt": i.interrupt, "test": i.drill}
                 for i in self.engine.queued()]
        nxt = [{"id": n.id, "title": n.title, "at": at.isoformat()}
               for at, n in self._notices.upcoming(24)[:20]]
        return {"on_air": on_air, "queue": queue, "next": nxt,
                "audio": "ok" if self.audio_ok else "degraded", "state": self.state,
                "attention": self.needs_attention(), "verdict": self.health()["verdict"]}

    def health(self) -> dict:
        notices = self._notices.notices
        own = {"status": self.state,
               "audio": {"ok": self.audio_ok, "detail": self.audio_detail},
               "notices": len(notices.notices),
               "schedule_errors": [p for ps in notices.errors.values() for p in ps],
               "on_air": self.engine.on_air() is not None,
               **{name: extra() for name, extra in self.extras.items()}}
        own["verdict"] = verdict(dict(own, state=own["status"],
                                      broken_files=[str(f) for f in notices.errors],
                                      faults=self.faults(), clock_step=self.recent_step()),
                                 (self.bus or events.BUS).bad_now(), page_files=self._page_file,
                                 tz=getattr(self.clock, "tz", None))
        return own

    def _page_file(self, path) -> bool:
        """Whether the staff page can edit (and so fix) this notice file."""
        web = Path(self._notices.config.paths.schedules) / WEB_FOLDER
        return Path(path).parent == web

    # -- items staff must look at ------------------------------------------------------
    def needs_attention(self, days: int = 7) -> list[dict]:
        """Partial and failed airings of the last ``days`` nobody acknowledged yet."""
        since = self.clock.now() - dt.timedelta(days=days)
        return [{"rowid": r["rowid"], "kind": r["kind"], "id": r["id"], "title": r["title"],
                 "status": r["status"], "detail": r["detail"],
                 "at": r["ended_at"] or r["started_at"] or r["scheduled_at"],
                 "started_at": r["started_at"] or r["scheduled_at"]}
                for r in self.store.unacknowledged(since)]

    def acknowledge(self, rowid: int, by: str) -> bool:
        """Staff saw a partial or failed airing; True if it was waiting for that."""
        done = self.store.acknowledge(rowid, by, self.clock.now())
        if done:
            log.info("As-run row %d acknowledged by %s", rowid, by)
        return done
