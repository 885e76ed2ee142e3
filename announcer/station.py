"""The station: notices, bulletins and the playout engine, as one service.

The daemon (``announcer.daemon``) drives it from APScheduler jobs and the web page
calls it; it owns no thread of its own besides the engine's and a small cue pool.

Rules of the record (the as-run log is the truth):
- every airing due from the moment the process started airs within its grace or gets a
  row saying why not, on a first start with an empty database too;
- an item cut on air by a stop of the daemon (SIGTERM) or by a crash (kill -9) is
  replayed from the start after the restart if still within grace, else its row says
  it was too late; the same for notices queued (not started) when the daemon stopped,
  which are logged ``missed`` with detail ``stopped`` at the stop;
- accepted bulletins are kept in the database until they end, and re-air after a
  restart (unless expired).
"""

import datetime as dt
import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from announcer import admission, events, schedule
from announcer.audio.device import DeviceOutput
from announcer.audio.filesink import FileOutput
from announcer.config import Config, load_config
from announcer.errors import AnnouncerError, BulletinError, ConfigError
from announcer.notices import NoticeSet, dir_signature, load_notice_dir
from announcer.playout.engine import EMERGENCY, NOTICE, Engine, Item
from announcer.playout.sources import ArraySource, StreamSource
from announcer.store import STOPPED, Store
from announcer.text.title import TitleError, check_title, derive_title, shorten

log = logging.getLogger(__name__)
CUE_LEAD = 2.0  # seconds: notices are handed to the engine this early, timed to the block
CUE_THREADS = 4  # a cue that misses the cache never delays another notice's cue
MAX_BULLETIN = 5000
BULLETIN_KINDS = ("bulletin", "alert")  # "alert": official information (announcer.jma)


def make_output(config: Config, fallback_to_file: bool = False):
    """The configured output. With ``fallback_to_file`` a machine without any sound
    device writes WAV files instead (for trying the station out), and says so loudly."""
    use_file = config.audio.device == "file"
    if fallback_to_file and not use_file and not _device_present(config.audio.device):
        log.warning("=" * 70)
        log.warning("NO SOUND DEVICE matches audio.device=%r: NOTHING GOES ON AIR.",
                    config.audio.device)
        log.warning("Falling back to audio.device \"file\" (WAV files under %s).",
                    config.paths.data / "aired")
        log.warning("=" * 70)
        use_file = True
    if use_file:
        log.warning("audio.device is \"file\": nothing goes to a sound card; programs are "
                    "written as WAV files under %s", config.paths.data / "aired")
        return FileOutput(config.paths.data / "aired", config.audio.rate,
                          tz=config.station.timezone)
    return DeviceOutput(config.audio.device, config.audio.rate, config.audio.latency,
                        config.audio.retry_seconds)


def _device_present(name: str) -> bool:
    from announcer.audio.device import find_device

    try:
        return find_device(name) is not None
    except Exception:  # PortAudio itself missing or broken
        return False


def check_station(config_path: Path) -> tuple[list[str], list]:
    """Every problem of the config and notice files, and the next 24 h of airings."""
    try:
        config = load_config(config_path)
    except ConfigError as e:
        return e.problems, []
    notices = load_notice_dir(config.paths.schedules, default_grace=config.playout.grace)
    problems = [p for errors in notices.errors.values() for p in errors]
    try:
        from announcer.voices import load_voices
        load_voices(config.paths.voices)
    except ConfigError as e:
        problems += e.problems
    tz = config.station.timezone
    now = dt.datetime.now(tz)
    upcoming = [(a.at, notices.notices[a.notice_id]) for a in
                schedule.airings_between(notices.notices.values(), now,
                                         now + dt.timedelta(hours=24), tz=tz)]
    return problems, upcoming


class Station:
    def __init__(self, config: Config, clock, studio, store: Store, output):
        self.config, self.clock, self.studio = config, clock, studio
        self.store, self.output = store, output
        self.tz = config.station.timezone
        self.engine = Engine(clock, config.audio.rate, self._on_event)
        self.notices = NoticeSet()
        self._signature = None
        self._planned_until: dt.datetime | None = None
        self._rows: dict[int, int] = {}  # id(item) -> airlog rowid
        self._stopped_by: dict[tuple[str, str], str] = {}  # (kind, id) -> staff name
        self._lock = threading.RLock()
        self._render = ThreadPoolExecutor(max_workers=CUE_THREADS, thread_name_prefix="cue")
        self._cues: dict[tuple[str, dt.datetime], object] = {}  # being rendered -> future
        self._cued: set[tuple[str, dt.datetime]] = set()  # cued in the last hour
        self._health_reported = False
        self._prerender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prerender")
        self.audio_detail = "not started"
        self.stopping = False
        self.health_extras: dict = {}  # name -> callable: more /healthz fields (jma)

    # -- lifecycle -------------------------------------------------------------------
    def start(self, started_at: dt.datetime | None = None) -> None:
        """Load notices, recover what a previous run left (``started_at``: when this
        process started, so that airings due during start-up are not lost), and start
        the output without waiting for the device."""
        self.reload_notices()
        self.recover(started_at)
        self.heartbeat()
        self.output.start(self.engine.pull, self._on_health)

    def stop(self) -> None:
        """Fade out what is on air (≤ 1 s), log what was queued, release the device."""
        with self._lock:
            self.stopping = True
            pending = list(self._cues)
        for notice_id, at in pending:  # being rendered: never reached the engine
            self._record_stopped(notice_id, at)
        self.engine.fade_out_all()
        deadline = time.monotonic() + 1.0  # real time: the output plays the fade
        while self.engine.on_air() is not None and time.monotonic() < deadline \
                and self.output.healthy:
            time.sleep(0.02)
        self.output.stop()
        self.engine.end_now()
        self.engine.drain_events()
        self.engine.close()
        self._render.shutdown(wait=False, cancel_futures=True)
        self._prerender.shutdown(wait=False, cancel_futures=True)

    def _on_health(self, ok: bool, detail: str) -> None:
        self.audio_detail = detail
        self._health_reported = True
        self.engine.output_health(ok, detail)
        events.publish(events.AUDIO, "output", ok, detail)

    @property
    def audio_ok(self) -> bool:
        return self.output.healthy

    # -- notices ---------------------------------------------------------------------
    def reload_notices(self, force: bool = False) -> bool:
        """Re-read ``schedules/`` if anything changed; broken files keep their last good
        version. Returns True when something was reloaded."""
        folder = self.config.paths.schedules
        signature = dir_signature(folder)
        if signature == self._signature and not force:
            return False
        with self._lock:
            self.notices = load_notice_dir(folder, default_grace=self.config.playout.grace,
                                           previous=self.notices)
            self._signature = signature
        events.publish_state(events.NOTICE_FILE, self.notices.errors)
        for problems in self.notices.errors.values():
            for p in problems:
                log.error("%s", p)
        log.info("Loaded %d notices from %s (%d broken files)", len(self.notices.notices),
                 folder, len(self.notices.errors))
        self._cue_planned_gap()
        # Whoever reloaded (the poller, the page, SIGHUP): what is due soon is rendered
        # now, not at the next periodic pass.
        self._prerender.submit(self.prerender)
        return True

    def _cue_planned_gap(self) -> None:
        """A notice added or changed for the next CUE_LEAD seconds, a window already
        planned: cue what is not cued, queued or logged yet, so nothing falls between."""
        planned = self._planned_until
        now = self.clock.now()
        if planned is None or planned <= now:
            return
        for a in schedule.airings_between(self.notices.notices.values(), now, planned,
                                          tz=self.tz):
            if (a.notice_id, a.at) not in self._cued and \
                    not self.store.has_airing("notice", a.notice_id, a.at):
                self.cue(self.notices.notices[a.notice_id], a.at, a.order)

    def upcoming(self, hours: float = 24, start: dt.datetime | None = None):
        start = start or self.clock.now()
        airings = schedule.airings_between(self.notices.notices.values(), start,
                                           start + dt.timedelta(hours=hours), tz=self.tz)
        return [(a.at, self.notices.notices[a.notice_id]) for a in airings]

    def _notice_audio(self, notice):
        return self.studio.render_notice(notice.text, voice=notice.voice, chime=notice.chime,
                                         repeat=notice.repeat)

    def prerender(self, minutes: float | None = None) -> int:
        """Render every notice due within ``minutes`` that is not cached yet."""
        minutes = minutes if minutes is not None else self.config.playout.prerender_minutes
        done = 0
        seen = set()
        for _at, notice in self.upcoming(minutes / 60):
            if notice.id in seen:
                continue
            seen.add(notice.id)
            try:
                self._notice_audio(notice)
                done += 1
            except Exception as exc:
                log.error("Cannot render notice %s (%s): %s", notice.id, notice.source, exc)
                events.publish(events.RENDER, notice.id, False, f"{notice.title or notice.id}: {exc}")
        return done

    def plan(self) -> None:
        """Cue the notices due within CUE_LEAD seconds (each airing once)."""
        now = self.clock.now()
        start = self._planned_until or now
        end = now + dt.timedelta(seconds=CUE_LEAD)
        if end <= start:
            return
        self._planned_until = end
        for airing in schedule.airings_between(self.notices.notices.values(), start, end,
                                               tz=self.tz):
            self.cue(self.notices.notices[airing.notice_id], airing.at, airing.order)

    def cue(self, notice, at: dt.datetime, order: int = 0) -> None:
        """Render and queue one airing, on the cue pool (never blocks the caller)."""
        self._remember_cue((notice.id, at))
        # The monotonic instant of ``at``, read here once: twins cued together get the
        # same start, and their ``order`` (file position) decides between them.
        at_mono = self.clock.monotonic() + (at - self.clock.now()).total_seconds()
        with self._lock:
            if self.stopping or (notice.id, at) in self._cues:
                return
            self._cues[(notice.id, at)] = self._render.submit(self._cue_notice, notice, at,
                                                              at_mono, order)

    def _remember_cue(self, key: tuple[str, dt.datetime]) -> None:
        """Airings cued in the last hour (so a reload never cues one twice)."""
        with self._lock:
            self._cued.add(key)
            if len(self._cued) > 1000:
                horizon = self.clock.now() - dt.timedelta(hours=1)
                self._cued = {k for k in self._cued if k[1] > horizon}

    def _order(self, notice_id: str) -> int:
        return next((i for i, n in enumerate(self.notices.notices) if n == notice_id), 0)

    def wait_cues(self, timeout: float = 10.0) -> None:
        """Wait until every cue submitted so far is done (tests, benchmarks)."""
        with self._lock:
            futures = list(self._cues.values())
        for future in futures:
            try:
                future.result(timeout)
            except Exception:
                pass

    def _record_stopped(self, notice_id: str, at: dt.datetime) -> None:
        notice = self.notices.notices.get(notice_id)
        log.warning("Notice %s of %s not aired: the daemon is stopping", notice_id, at)
        self.store.airing_record("notice", notice_id, notice.title if notice else notice_id,
                                 at, "missed", STOPPED, at=self.clock.now())

    def _cue_notice(self, notice, at: dt.datetime, at_mono: float, order: int) -> None:
        try:
            self._render_and_queue(notice, at, at_mono, order)
        finally:
            with self._lock:
                self._cues.pop((notice.id, at), None)

    def _render_and_queue(self, notice, at: dt.datetime, at_mono: float, order: int) -> None:
        """Render (normally a cache hit) and hand the airing to the engine."""
        try:
            audio = self._notice_audio(notice)
        except Exception as exc:
            if self.stopping:
                return  # logged as stopped by ``stop``
            log.error("Notice %s could not be rendered: %s", notice.id, exc)
            events.publish(events.RENDER, notice.id, False, f"{notice.title or notice.id}: {exc}")
            self.store.airing_record("notice", notice.id, notice.title, at, "failed",
                                     f"render failed: {exc}", at=self.clock.now())
            return
        deadline = at_mono + notice.grace.total_seconds()
        # Start early by the head silence and the device latency, so that the first
        # sound leaves the device on the scheduled second.
        lead = self.config.playout.head_silence + (self.output.latency or 0.0)
        with self._lock:  # ``stop`` logs every cue that has not reached the engine
            if self.stopping:
                return
            self.engine.enqueue(Item("notice", notice.id, ArraySource(audio), NOTICE,
                                     notice.title, not_before=at_mono - lead,
                                     deadline=deadline, scheduled_at=at, order=order))
            self._cues.pop((notice.id, at), None)

    def recover(self, started_at: dt.datetime | None = None) -> None:
        """After a (re)start: air what is due within grace, log the rest as missed.

        Looks at every airing since the last heartbeat (less the longest grace, for
        notices that were queued behind a long item) or, on a first start, since this
        process started; an airing with no row yet is aired late or logged missed.
        """
        now = self.clock.now()
        self._planned_until = now
        self._resolve_unfinished(now)
        last = self.store.get_state("last_alive")
        notices = self.notices.notices
        if last:
            since = dt.datetime.fromisoformat(last) - max(
                (n.grace for n in notices.values()), default=dt.timedelta(0))
            why = "daemon was not running"
        else:
            since = started_at or now
            why = "due while the daemon was starting"
        air_now, missed = schedule.classify_missed(notices.values(), since, now, tz=self.tz)
        for a in missed:
            if not self.store.has_airing("notice", a.notice_id, a.at):
                log.warning("Missed notice %s of %s (%s)", a.notice_id, a.at, why)
                self.store.airing_record("notice", a.notice_id, notices[a.notice_id].title,
                                         a.at, "missed", why, at=now)
        for a in air_now:
            if not self.store.has_airing("notice", a.notice_id, a.at):
                log.warning("Airing notice %s of %s late (%s)", a.notice_id, a.at, why)
                self.cue(notices[a.notice_id], a.at, a.order)
        for b in self.store.open_bulletins():
            log.warning("Bulletin %s was accepted but not finished: airing it from the start",
                        b["id"])
            self._enqueue_bulletin(b)

    def _resolve_unfinished(self, now: dt.datetime) -> None:
        """Notices a previous run cut on air (stop or crash) or left queued at a stop."""
        notices = self.notices.notices
        for row in self.store.unfinished_notices():
            notice = notices.get(row["id"])
            at = dt.datetime.fromisoformat(row["scheduled_at"]) if row["scheduled_at"] else None
            cause = "stopped" if row["detail"] == STOPPED else "cut by a restart"
            if notice and at and at > now:
                self.store.mark_resolved(row["rowid"], f"{cause}; airs at its time")
            elif notice and at and now - at <= notice.grace:
                self.store.mark_resolved(row["rowid"], f"{cause}; replayed from start")
                log.warning("Notice %s of %s was %s: replaying from the start", notice.id,
                            at, cause)
                self.cue(notice, at, self._order(notice.id))
            else:
                self.store.mark_resolved(row["rowid"], f"{cause}; skipped (too late)")
                log.warning("Notice %s was %s: too late to replay", row["id"], cause)

    def heartbeat(self) -> None:
        self.store.set_state("last_alive", self.clock.now().isoformat(), durable=False)

    # -- bulletins -------------------------------------------------------------------
    def validate_bulletin(self, text, repeat=2, test=False):
        if not isinstance(text, str) or not text.strip():
            raise BulletinError("原稿が空です。放送する文章を入力してください", 422)
        if len(text) > MAX_BULLETIN:
            raise BulletinError(f"原稿が {len(text) - MAX_BULLETIN} 文字多すぎます（いま {len(text)} 文字、"
                                f"上限 {MAX_BULLETIN} 文字）。短くしてください", 413)
        if isinstance(repeat, bool) or not isinstance(repeat, int) or not 1 <= repeat <= 5:
            raise BulletinError("繰り返し回数は 1 から 5 までにしてください", 422)
        try:
            return self.studio.sentences(text, repeat=repeat, drill=bool(test))
        except ValueError as exc:  # a malformed {漢字|ヨミ}
            raise BulletinError(str(exc), 422) from None
        except AnnouncerError as exc:  # nothing speakable
            raise BulletinError(str(exc), 422) from None

    def submit_bulletin(self, text: str, *, repeat: int = 2, interrupt: bool = True,
                        chime: bool = True, test: bool = False,
                        expires_at: dt.datetime | None = None, by: str = "",
                        request_key: str | None = None, kind: str = "bulletin",
                        title: str | None = None) -> tuple[str, bool]:
        """Validate, commit to disk, then queue. Returns (id, created). ``kind`` names it
        in the as-run log (official information airs as ``alert``); without a ``title``
        the subject is derived from the script (``announcer.text.title``). What is
        admitted (open cap, expiry, ``request_key`` scoped to ``by``; the same key with
        another script is 409) is ``announcer.admission``."""
        self.validate_bulletin(text, repeat, test)
        try:
            # official information brings its own (JMA's) title: shortened, never refused
            title = (shorten(title.strip()) if kind != "bulletin" and title
                     else check_title(title or "")) or derive_title(text)
        except TitleError as exc:
            raise BulletinError(str(exc), 422) from None
        now = self.clock.now()
        expires_at = admission.expiry(expires_at, now, self.config.emergency.default_expiry)
        bid = now.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        options = {"repeat": repeat, "interrupt": interrupt, "chime": chime, "test": test}
        if kind != "bulletin":
            options["kind"] = kind
        key = admission.scoped_key(by, request_key)
        if kind == "bulletin":  # official information is never held back by the cap
            admission.check_room(self.store, test, self.config.emergency.max_open, key)
        # Synthesis of the first phrase overlaps the durable commit; nothing reaches the
        # engine (or the air) before the commit has returned.
        source = self._bulletin_source({"id": bid, "text": text, **options})
        try:
            bid, created = self.store.add_bulletin(
                bid, text, options, now, expires_at, by, key, title,
                fingerprint=admission.fingerprint(text, dict(options, title=title)))
            admission.check_stored(self.store.bulletin(bid), created, text,
                                   dict(options, title=title))
        except BaseException:
            source.close()
            raise
        if not created:
            source.close()
        else:
            self._enqueue_bulletin(self.store.bulletin(bid), source)
            log.info("Bulletin %s accepted from %s (%d chars, interrupt=%s)", bid, by or "-",
                     len(text), interrupt)
        return bid, created

    def _enqueue_bulletin(self, b: dict, source: StreamSource | None = None) -> None:
        expires = dt.datetime.fromisoformat(b["expires_at"]) if b.get("expires_at") else None
        if expires is not None and expires <= self.clock.now():  # e.g. found at a restart
            admission.expire(self.store, b, self.clock.now())
            if source is not None:
                source.close()
            return
        mono = self.clock.monotonic()
        deadline = None
        if expires is not None:
            deadline = mono + (expires - self.clock.now()).total_seconds()
        title = ("【訓練】" if b["test"] else "") + (b.get("title") or derive_title(b["text"]))
        source = source or self._bulletin_source(b)
        self.engine.enqueue(Item(b.get("kind", "bulletin"), b["id"], source, EMERGENCY, title,
                                 interrupt=b["interrupt"], not_before=0.0, deadline=deadline,
                                 drill=bool(b["test"])))

    def _bulletin_source(self, b: dict) -> StreamSource:
        """Synthesis starts now (the producer thread runs ahead of the engine); a
        sentence that cannot be synthesized is skipped and named, the item ends
        ``partial``."""
        missing: list = []
        program = self.studio.bulletin_program(
            b["text"], repeat=b["repeat"], chime=b["chime"], drill=b["test"],
            on_missing=lambda exc: missing.append(f"「{exc.sentence[:40]}」"))
        return StreamSource(program, name=b["id"], missing=missing)

    def cancel_bulletin(self, bid: str, by: str = "") -> bool:
        b = self.store.bulletin(bid)
        if b is None:
            return False
        kind = b.get("kind", "bulletin")
        if by:
            self._stopped_by[(kind, bid)] = by
        if self.engine.cancel(kind, bid):
            return True
        self._stopped_by.pop((kind, bid), None)
        if b["state"] in ("queued", "on_air"):  # not in the engine (e.g. device down)
            self.store.set_bulletin_state(bid, "cancelled", self.clock.now())
        return True

    def stop_notice(self, notice_id: str, by: str = "") -> bool:
        """Take a notice off air (short fade); it is not replayed. False if that notice
        is not on air."""
        current = self.engine.on_air()
        if current is None or (current.kind, current.id) != ("notice", notice_id):
            return False
        self._stopped_by[("notice", notice_id)] = by
        if self.engine.cancel("notice", notice_id):
            return True
        self._stopped_by.pop(("notice", notice_id), None)
        return False

    def bulletin(self, bid: str) -> dict | None:
        return self.store.bulletin(bid)

    # -- events from the engine (events thread) -------------------------------------
    def _on_event(self, event: str, item: Item, info: dict) -> None:
        if event == "start":
            self._rows[id(item)] = self.store.airing_started(
                item.kind, item.id, item.title, item.scheduled_at, info["at"])
            if item.kind in BULLETIN_KINDS:
                self.store.set_bulletin_state(item.id, "on_air", info["at"])
            log.info("ON AIR %s %s %s", item.kind, item.id, item.title)
            return
        status, detail = info["status"], info.get("detail", "")
        by = self._stopped_by.pop((item.kind, item.id), None)
        if status == "cancelled" and by:
            detail = f"{by} が停止しました"
        at = info.get("at") or self.clock.now()
        row = self._rows.pop(id(item), None)
        if row is None and item.kind != "notice" and detail == STOPPED:
            # Queued at a stop: it stays open in the database and airs after the restart.
            log.info("%s %s stays queued for after the restart", item.kind, item.id)
            return
        if row is None:
            self.store.airing_record(item.kind, item.id, item.title, item.scheduled_at, status,
                                     detail, at)
        else:
            self.store.airing_ended(row, status, at, detail)
        log.info("%s %s %s%s", status.upper(), item.kind, item.id, f" ({detail})" if detail else "")
        events.airing_ended(item.kind, item.id, item.title, status, detail)
        if item.kind in BULLETIN_KINDS:
            self._bulletin_ended(item, status, detail)
        elif status == "interrupted" and item.scheduled_at is not None:
            self._maybe_replay(item)

    def _bulletin_ended(self, item: Item, status: str, detail: str) -> None:
        now = self.clock.now()
        if status in ("aired", "partial"):
            self.store.set_bulletin_state(item.id, status, now)
        elif status == "cancelled":
            self.store.set_bulletin_state(item.id, "cancelled", now)
        elif status == "missed":
            self.store.set_bulletin_state(item.id, "expired", now)
        elif status == "failed" and detail.startswith("output lost") \
                and "playout error" not in detail:
            # Accepted bulletins are never lost: air it again, from the start, when the
            # device is back.
            self.store.set_bulletin_state(item.id, "queued", now)
            self._enqueue_bulletin(self.store.bulletin(item.id))
        elif status == "failed":
            self.store.set_bulletin_state(item.id, "failed", now)
        elif status == "interrupted" and item.drill and not self.stopping:
            # A real emergency cut into a drill: the drill is not aired again after it.
            self.store.set_bulletin_state(item.id, "cancelled", now)
        # Otherwise "interrupted" is a shutdown: the row stays on_air and re-airs after
        # restart.

    def _maybe_replay(self, item: Item) -> None:
        """A notice cut by an emergency is replayed from the start if still in grace."""
        notice = self.notices.notices.get(item.id)
        if notice and self.clock.now() - item.scheduled_at <= notice.grace and \
                not self.stopping:
            log.info("Notice %s was cut: it will air again from the start", item.id)
            self.cue(notice, item.scheduled_at, item.order)

    # -- status ----------------------------------------------------------------------
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
               for at, n in self.upcoming(24)[:20]]
        return {"on_air": on_air, "queue": queue, "next": nxt,
                "audio": "ok" if self.audio_ok else "degraded", "state": self.state,
                "attention": self.needs_attention()}

    # -- items staff must look at ------------------------------------------------------
    def needs_attention(self, days: int = 7) -> list[dict]:
        """Partial and failed airings of the last ``days`` nobody acknowledged yet."""
        since = self.clock.now() - dt.timedelta(days=days)
        return [{"rowid": r["rowid"], "kind": r["kind"], "id": r["id"], "title": r["title"],
                 "status": r["status"], "detail": r["detail"],
                 "at": r["ended_at"] or r["started_at"] or r["scheduled_at"]}
                for r in self.store.unacknowledged(since)]

    def acknowledge(self, rowid: int, by: str) -> bool:
        """Staff saw a partial or failed airing; True if it was waiting for that."""
        done = self.store.acknowledge(rowid, by, self.clock.now())
        if done:
            log.info("As-run row %d acknowledged by %s", rowid, by)
        return done

    @property
    def state(self) -> str:
        """``starting`` until speech is warm and the output has first reported, then
        ``ok`` or ``degraded`` (the output cannot play)."""
        ready = getattr(self.studio, "ready", None)
        if not self._health_reported or (ready is not None and not ready.is_set()):
            return "starting"
        return "ok" if self.audio_ok else "degraded"

    def health(self) -> dict:
        return {"status": self.state,
                "audio": {"ok": self.audio_ok, "detail": self.audio_detail},
                "notices": len(self.notices.notices),
                "schedule_errors": [p for ps in self.notices.errors.values() for p in ps],
                "on_air": self.engine.on_air() is not None,
                **{name: extra() for name, extra in self.health_extras.items()}}
