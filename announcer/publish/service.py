"""The publisher: after each airing ends (and at midnight), the public folder is brought
up to date; then ``publish.command`` sends it on.

Rules:
- Nothing here runs on the air's threads: ``tap`` (audio thread) and ``airing_ended``
  (the station's events thread, after the airing's row is final) only queue; one
  capture thread encodes, one publisher thread writes the site, one sync thread runs
  the command.
- Only what went out: ``aired`` and ``partial`` items (with the audio that aired), and an
  item staff stopped on air (``cancelled`` after it started) as withdrawn, with its time.
  Drafts, items that never started, cut items (``interrupted``, replayed when in grace),
  and drills unless ``publish.drills`` never reach the folder. No staff names, ids or
  details: the text is the script's (notice file, bulletin, JMA item), the title its
  subject.
- An alert whose JMA series gets a 取消 is marked withdrawn at the 取消's time (checked
  after each airing and every ``check_seconds``); its audio is taken down, its page stays.
- The site shows today and the ``publish.days - 1`` days before; older rows and files go.
- The work waits (at most ``QUIET_WAIT``) while an item is cued to start, so an onset
  never shares the CPU with the site.
- A failure to write is a condition on the events bus (``PUBLISH``, key ``site``), never
  an exception on the air's side.
"""

import datetime as dt
import logging
import os
import queue
import sqlite3
import threading
import time
from pathlib import Path
from types import SimpleNamespace

from announcer.core import events
from announcer.publish.capture import Capture
from announcer.publish.furigana import Furigana, area_spellings
from announcer.publish.site import Site, write_atomic
from announcer.publish.store import PublicStore
from announcer.publish.sync import Sync

log = logging.getLogger(__name__)
AREA_SOURCE = Path(__file__).resolve().parents[2] / "data" / "area" / "kenall-haga.csv"
WITHDRAWN_ON_AIR = "放送中に取り消されました"
WITHDRAWN_BY_JMA = "気象庁が取り消しました"
QUIET_WAIT = 10.0  # seconds the site waits at most for a cued item to start
LATER_MAX = 500  # airings kept to publish once the disk or database takes writes again
CATCH_UP_MAX = 200  # airings of earlier runs published (text only) at a start, at most
_STOP = object()


class Publisher:
    def __init__(self, config, clock, store, studio, notices=None, jma=None):
        """``notices()`` gives the NoticeSet in effect; ``jma`` (``JmaStore``, may be set
        later) answers ``items(day)`` and ``series_items(series)``."""
        self.cfg, self.clock = config.publish, clock
        self.tz = config.station.timezone
        self.store, self.studio, self.notices, self.jma = store, studio, notices, jma
        self.db = PublicStore(store)
        self.site = Site(self.cfg.dir, title=self.cfg.title, station=config.station.name,
                         url=self.cfg.url, days=self.cfg.days, tz=self.tz)
        work = self.cfg.dir.parent / f".{self.cfg.dir.name}-work"
        self.capture = Capture(work, config.audio.rate, self._captured,
                               on_error=lambda d: events.publish(events.PUBLISH, "audio", False, d),
                               wanted=lambda item: self.cfg.drills or not item.drill)
        self.tap = self.capture.tap  # for Engine.tap
        self.sync = Sync(self.cfg.command, self.cfg.dir, self.cfg.command_timeout) \
            if self.cfg.command else None
        self.furigana = Furigana(studio.pool.furigana_words, studio.readings.entries,
                                 area_spellings(AREA_SOURCE))
        self.check_seconds = 15.0
        # quiet(): no item is about to start (the daemon: the engine's queue is empty).
        # The site is written between onsets, never in the seconds before one.
        self.quiet = lambda: True
        self.published = 0  # items written (tests, bench)
        self.caught_up: int | None = None  # airings of earlier runs published at this start
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._day: dt.date | None = None
        self._later: list[tuple] = []  # "aired" jobs a full disk or locked database held
        self._failing = ""  # the last write error, logged once

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        self.cfg.dir.mkdir(parents=True, exist_ok=True)
        self.capture.start()
        if self.sync is not None:
            self.sync.start()
        self._thread = threading.Thread(target=self._loop, name="publish", daemon=True)
        self._thread.start()
        self.rebuild()
        log.info("Public site in %s (%d days, drills %s, command %s)", self.cfg.dir,
                 self.cfg.days, "shown" if self.cfg.drills else "left out",
                 " ".join(self.cfg.command) or "none")

    def stop(self, timeout: float = 10.0) -> None:
        """What ended before the stop is still published (within ``timeout``)."""
        self.capture.stop(timeout)
        self._queue.put((_STOP,))
        if self._thread is not None:
            self._thread.join(timeout)
        if self.sync is not None:
            self.sync.stop()
        self.db.close()

    # -- from the station (never blocking) ------------------------------------------
    def airing_ended(self, item, status: str, detail: str, at: dt.datetime) -> None:
        self.capture.ended(item, {"status": status, "at": at})

    def rebuild(self) -> None:
        self._queue.put(("rebuild",))

    def catch_up(self, before: dt.datetime) -> None:
        """After the station's start (its recovery has settled what a crash cut): airings
        that started before ``before`` and have no page yet are published (``_catch_up``)."""
        self._queue.put(("catch_up", before))

    def _captured(self, item, take, info: dict) -> None:  # capture thread
        self._queue.put(("aired", item, take, info))

    # -- the publisher thread -------------------------------------------------------
    def _loop(self) -> None:
        while True:
            try:
                job = self._queue.get(timeout=self.check_seconds)
            except queue.Empty:
                job = ("tick",)
            if job[0] is _STOP:
                return
            self._wait_quiet()
            try:
                if job[0] == "aired":
                    self._aired(*job[1:])
                elif job[0] == "catch_up":
                    self._catch_up(job[1])
                elif job[0] == "rebuild" or self._tick() or self._later:
                    self._retry_later()
                    self._rebuild()
            except (sqlite3.Error, OSError) as exc:  # a full disk, a locked database
                if job[0] == "aired" and len(self._later) < LATER_MAX:
                    self._later.append(job)  # published when writes work again
                self._write_failed(exc)
                events.publish(events.PUBLISH, "site", False,
                               f"公開フォルダ {self.cfg.dir} を更新できません: {exc}")
            except Exception as exc:
                log.exception("The public site was not updated")
                events.publish(events.PUBLISH, "site", False,
                               f"公開フォルダ {self.cfg.dir} を更新できません: {exc}")
            else:
                if self._failing and not self._later:
                    log.warning("The public site is updated again")
                    self._failing = ""

    def _retry_later(self) -> None:
        """Airings a write fault held back, oldest first; a new fault keeps the rest (the
        site is still rebuilt for what is in the database)."""
        while self._later:
            job = self._later[0]
            try:
                self._aired(*job[1:])
            except sqlite3.IntegrityError:  # its slug was taken meanwhile: a new one
                self._reslug(job[3].get("row"))
                return
            except (sqlite3.Error, OSError) as exc:
                self._write_failed(exc)
                return
            self._later.pop(0)

    def _write_failed(self, exc: Exception) -> None:
        """Logged once per error while it lasts (the loop says when it is over)."""
        if str(exc) != self._failing:
            log.error("The public site was not updated (%s): trying again every %.0f s",
                      exc, self.check_seconds)
        self._failing = str(exc)

    def _reslug(self, row: dict | None) -> None:
        if row is None:
            return
        new = self.db.free_slug(row["started_at"])
        if row.get("audio"):
            folder = self.cfg.dir / "audio"
            os.replace(folder / row["audio"], folder / f"{new}.mp3")
            row["audio"] = f"{new}.mp3"
        log.warning("Public page %s is published as %s (its name was taken)", row["slug"], new)
        row["slug"] = new

    def _wait_quiet(self, limit: float = QUIET_WAIT) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and not self.quiet():
            time.sleep(0.05)

    def _tick(self) -> bool:
        """Midnight passed, or a 取消 withdrew a published alert: rebuild."""
        today = self.clock.now().astimezone(self.tz).date()
        return today != self._day or self._withdrawals()

    def _aired(self, item, take, info: dict) -> None:
        status = info["status"]
        started = getattr(item, "started_at", None)
        wanted = status in ("aired", "partial") or (status == "cancelled" and started)
        if not wanted or started is None or (item.drill and not self.cfg.drills):
            if take is not None:
                take.path.unlink(missing_ok=True)
            return
        cpu = time.thread_time()
        row = info.get("row")  # made before a write fault held this airing back
        if row is None:
            row = self._row(item, status, started, info["at"])
            if take is not None and row["status"] != "withdrawn":
                row.update(self._store_audio(take, row["slug"]))
                events.publish(events.PUBLISH, "audio", True, "")  # encoding works (again)
            elif take is not None:
                take.path.unlink(missing_ok=True)
            info["row"] = row
        if not info.get("added"):
            self.db.add(row)
            info["added"] = True
        self._withdrawals()
        self._rebuild()
        self.published += 1
        log.info("Published %s %s as %s (%.0f ms CPU in this thread, %d bytes of audio)",
                 item.kind, item.id, row["slug"], (time.thread_time() - cpu) * 1000,
                 row.get("audio_bytes", 0))

    def _row(self, item, status: str, started: dt.datetime, ended: dt.datetime) -> dict:
        title, text, easy, series = self._script(item, started)
        self.studio.wait_ready(60)
        content = {"title": self.furigana.line(title), "text": self.furigana.ruby(text),
                   "easy": self.furigana.ruby(easy) if easy else []}
        row = {"slug": self.db.free_slug(started), "kind": item.kind, "item_id": item.id,
               "started_at": started, "ended_at": ended, "status": status,
               "drill": bool(item.drill), "series": series, "content": content}
        if status == "cancelled":
            row.update(status="withdrawn", withdrawn_at=ended, withdrawn_note=WITHDRAWN_ON_AIR)
        return row

    def _script(self, item, started: dt.datetime) -> tuple[str, str, str, str | None]:
        """(title, text, easy text, JMA series) as the public may see them."""
        if item.kind == "notice":
            notice = self.notices().notices.get(item.id) if self.notices else None
            if notice is None:  # removed since it aired: its title from the record
                return item.title, "", "", None
            return notice.title, notice.text, notice.easy_text, None
        b = self.store.bulletin(item.id) or {}
        title = b.get("title") or item.title.removeprefix("【訓練】")
        series = None
        if item.kind == "alert":
            found = self._jma_item(item.id, started)
            if found and found.get("info_type") != "取消":
                series = found["series"]
        return title, b.get("text", ""), "", series

    def _jma_item(self, bulletin_id: str, at: dt.datetime) -> dict | None:
        if self.jma is None:
            return None
        day = at.astimezone(self.tz).date()
        try:
            for d in (day, day - dt.timedelta(days=1)):
                for found in self.jma.items(d):
                    if found.get("bulletin") == bulletin_id:
                        return found
        except Exception as exc:  # closed at shutdown: published without its series
            log.warning("JMA item of %s not found: %s", bulletin_id, exc)
        return None

    def _store_audio(self, take, slug: str) -> dict:
        dest = self.cfg.dir / "audio" / f"{slug}.mp3"
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(take.path, 0o644)
        try:
            os.replace(take.path, dest)  # same file system: atomic
        except OSError:
            write_atomic(dest, take.path.read_bytes())
            take.path.unlink(missing_ok=True)
        return {"audio": dest.name, "audio_bytes": dest.stat().st_size,
                "audio_seconds": take.seconds}

    def _catch_up(self, before: dt.datetime) -> None:
        """Airings of the site's days that started before this run and ended aired or
        partial, yet have no page (the daemon died between their end and their page):
        queued to be published, without audio (what was captured died with the process),
        each like a live airing (quiet onsets, retried after a write fault)."""
        first, today = self._first_day(), before.astimezone(self.tz).date()
        have = self.db.keys_since(first)
        found = []
        for n in range((today - first).days + 1):
            for r in self.store.airlog(first + dt.timedelta(days=n)):
                started = dt.datetime.fromisoformat(r["started_at"]) if r["started_at"] else None
                if r["status"] in ("aired", "partial") and started is not None and \
                        started < before and (r["kind"], r["id"], started) not in have:
                    found.append((r, started))
        queued = 0
        for r, started in found[-CATCH_UP_MAX:]:
            b = self.store.bulletin(r["id"]) if r["kind"] != "notice" else None
            drill = bool(b and b.get("test"))
            if drill and not self.cfg.drills:
                continue
            item = SimpleNamespace(kind=r["kind"], id=r["id"], title=r["title"] or "",
                                   drill=drill, started_at=started)
            ended = dt.datetime.fromisoformat(r["ended_at"]) if r["ended_at"] else started
            log.warning("Publishing %s %s of %s: it aired before the last stop and had no"
                        " page yet (text only)", r["kind"], r["id"], r["started_at"])
            self._queue.put(("aired", item, None, {"status": r["status"], "at": ended}))
            queued += 1
        self.caught_up = queued

    def _withdrawals(self) -> bool:
        """Mark published alerts whose JMA series got a 取消 withdrawn."""
        if self.jma is None:
            return False
        changed = False
        try:
            for row in self.db.open_alerts(self._first_day()):
                for other in self.jma.series_items(row["series"]):
                    at = dt.datetime.fromisoformat(other["received_at"])
                    # a 取消 that came after this airing began (a later 発表 stays)
                    if other.get("info_type") == "取消" and at >= row["started_at"] - \
                            dt.timedelta(minutes=1):
                        changed |= self.db.withdraw(row["slug"], at, WITHDRAWN_BY_JMA)
        except Exception as exc:
            log.warning("JMA withdrawals not checked: %s", exc)
        return changed

    def _first_day(self) -> dt.date:
        today = self.clock.now().astimezone(self.tz).date()
        return today - dt.timedelta(days=self.cfg.days - 1)

    def _rebuild(self) -> None:
        now = self.clock.now()
        self._day = now.astimezone(self.tz).date()
        first = self._first_day()
        for old in self.db.older_than(first):
            self.db.delete(old["slug"])
        # read a few rows at a time on each pass: the rebuild's memory does not grow
        # with the window (a long run would keep the high-water mark of the largest)
        rows = _Rows(self.db, first)
        changed = self.site.write(rows, now)
        slugs, audio = self.db.names_since(first)
        held = {job[3]["row"].get("audio") for job in self._later if "row" in job[3]}
        removed = self.site.prune({f"{s}.html" for s in slugs}, audio | held - {None})
        events.publish(events.PUBLISH, "site", True, "")
        if (changed or removed) and self.sync is not None:
            self.sync.request()


class _Rows:
    """The site's rows, newest first, read from the database afresh on each iteration."""

    def __init__(self, db: PublicStore, first: dt.date):
        self.db, self.first = db, first

    def __iter__(self):
        return self.db.each_since(self.first)
