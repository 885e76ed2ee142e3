"""The station: notices, bulletins and the playout engine, as one service.

The daemon (``announcer.daemon``) drives it from APScheduler jobs and the web page
calls it; it owns no thread of its own besides the engine's.
"""

import datetime as dt
import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from announcer import events, schedule
from announcer.audio.device import DeviceOutput
from announcer.audio.filesink import FileOutput
from announcer.config import Config, load_config
from announcer.errors import AnnouncerError, ConfigError
from announcer.notices import NoticeSet, dir_signature, load_notice_dir
from announcer.playout.engine import EMERGENCY, NOTICE, Engine, Item
from announcer.playout.sources import ArraySource, StreamSource
from announcer.store import Store

log = logging.getLogger(__name__)
CUE_LEAD = 2.0  # seconds: notices are handed to the engine this early, timed to the block
MAX_BULLETIN = 5000


class BulletinError(AnnouncerError):
    """A bulletin the station refuses; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status


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
        self._lock = threading.RLock()
        self._render = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cue")
        self._prerender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prerender")
        self.audio_detail = "not started"
        self.stopping = False

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        self.reload_notices()
        self.recover()
        self.heartbeat()
        self.output.start(self.engine.pull, self._on_health)

    def stop(self) -> None:
        """Fade out what is on air (≤ 1 s), then release the device."""
        self.stopping = True
        self.engine.fade_out_all()
        deadline = time.monotonic() + 1.0  # real time: the output plays the fade
        while self.engine.on_air() is not None and time.monotonic() < deadline \
                and self.output.healthy:
            time.sleep(0.02)
        self.output.stop()
        self.engine.drain_events()
        self.engine.close()
        self._render.shutdown(wait=False, cancel_futures=True)
        self._prerender.shutdown(wait=False, cancel_futures=True)

    def _on_health(self, ok: bool, detail: str) -> None:
        self.audio_detail = detail
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
        # Whoever reloaded (the poller, the page, SIGHUP): what is due soon is rendered
        # now, not at the next periodic pass.
        self._prerender.submit(self.prerender)
        return True

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
            notice = self.notices.notices[airing.notice_id]
            self._render.submit(self._cue_notice, notice, airing.at)

    def _cue_notice(self, notice, at: dt.datetime) -> None:
        """Render (normally a cache hit) and hand the airing to the engine."""
        try:
            audio = self._notice_audio(notice)
        except Exception as exc:
            log.error("Notice %s could not be rendered: %s", notice.id, exc)
            events.publish(events.RENDER, notice.id, False, f"{notice.title or notice.id}: {exc}")
            self.store.airing_record("notice", notice.id, notice.title, at, "failed",
                                     f"render failed: {exc}", at=self.clock.now())
            return
        delay = (at - self.clock.now()).total_seconds()
        mono = self.clock.monotonic()
        deadline = mono + delay + notice.grace.total_seconds()
        # Start early by the head silence and the device latency, so that the first
        # sound leaves the device on the scheduled second.
        lead = self.config.playout.head_silence + (self.output.latency or 0.0)
        self.engine.enqueue(Item("notice", notice.id, ArraySource(audio), NOTICE, notice.title,
                                 not_before=mono + delay - lead, deadline=deadline,
                                 scheduled_at=at))

    def recover(self) -> None:
        """After a restart: air what was missed within grace, log the rest as missed."""
        now = self.clock.now()
        self._planned_until = now
        last = self.store.get_state("last_alive")
        notices = self.notices.notices
        for row in self.store.unfinished_notices():
            notice = notices.get(row["id"])
            at = dt.datetime.fromisoformat(row["scheduled_at"]) if row["scheduled_at"] else None
            if notice and at and now - at <= notice.grace:
                self.store.mark_resolved(row["rowid"], "cut by a restart; replayed from start")
                log.warning("Notice %s was cut by a restart: replaying from the start", notice.id)
                self._render.submit(self._cue_notice, notice, at)
            else:
                self.store.mark_resolved(row["rowid"], "cut by a restart; skipped (too late)")
                log.warning("Notice %s was cut by a restart: too late to replay", row["id"])
        if last:
            since = dt.datetime.fromisoformat(last)
            air_now, missed = schedule.classify_missed(notices.values(), since, now, tz=self.tz)
            for a in missed:
                if not self.store.has_airing("notice", a.notice_id, a.at):
                    log.warning("Missed notice %s of %s while down", a.notice_id, a.at)
                    self.store.airing_record("notice", a.notice_id, notices[a.notice_id].title,
                                             a.at, "missed", "daemon was not running", at=now)
            for a in air_now:
                if not self.store.has_airing("notice", a.notice_id, a.at):
                    log.warning("Airing notice %s of %s late, after a restart", a.notice_id, a.at)
                    self._render.submit(self._cue_notice, notices[a.notice_id], a.at)
        for b in self.store.open_bulletins():
            log.warning("Bulletin %s was accepted but not finished: airing it from the start",
                        b["id"])
            self._enqueue_bulletin(b)

    def heartbeat(self) -> None:
        self.store.set_state("last_alive", self.clock.now().isoformat())

    # -- bulletins -------------------------------------------------------------------
    def validate_bulletin(self, text, repeat=2, test=False):
        if not isinstance(text, str) or not text.strip():
            raise BulletinError("原稿が空です。放送する文章を入力してください", 422)
        if len(text) > MAX_BULLETIN:
            raise BulletinError(f"原稿が長すぎます（{len(text)} 文字）。{MAX_BULLETIN} 文字以内にしてください", 413)
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
                        request_key: str | None = None) -> tuple[str, bool]:
        """Validate, commit to disk, then queue. Returns (id, created)."""
        self.validate_bulletin(text, repeat, test)
        now = self.clock.now()
        if expires_at is not None and expires_at <= now:
            raise BulletinError("有効期限が過去になっています", 422)
        bid = now.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        options = {"repeat": repeat, "interrupt": interrupt, "chime": chime, "test": test}
        bid, created = self.store.add_bulletin(bid, text, options, now, expires_at, by,
                                               request_key)
        if created:
            self._enqueue_bulletin(self.store.bulletin(bid))
            log.info("Bulletin %s accepted from %s (%d chars, interrupt=%s)", bid, by or "-",
                     len(text), interrupt)
        return bid, created

    def _enqueue_bulletin(self, b: dict) -> None:
        expires = dt.datetime.fromisoformat(b["expires_at"]) if b.get("expires_at") else None
        mono = self.clock.monotonic()
        deadline = None
        if expires is not None:
            deadline = mono + (expires - self.clock.now()).total_seconds()
        program = self.studio.bulletin_program(b["text"], repeat=b["repeat"], chime=b["chime"],
                                               drill=b["test"])
        title = ("【訓練】" if b["test"] else "") + b["text"].strip().splitlines()[0][:30]
        self.engine.enqueue(Item("bulletin", b["id"], StreamSource(program, name=b["id"]),
                                 EMERGENCY, title, interrupt=b["interrupt"], not_before=0.0,
                                 deadline=deadline))

    def cancel_bulletin(self, bid: str) -> bool:
        b = self.store.bulletin(bid)
        if b is None:
            return False
        if self.engine.cancel("bulletin", bid):
            return True
        if b["state"] in ("queued", "on_air"):  # not in the engine (e.g. device down)
            self.store.set_bulletin_state(bid, "cancelled", self.clock.now())
        return True

    def bulletin(self, bid: str) -> dict | None:
        return self.store.bulletin(bid)

    # -- events from the engine (events thread) -------------------------------------
    def _on_event(self, event: str, item: Item, info: dict) -> None:
        if event == "start":
            self._rows[id(item)] = self.store.airing_started(
                item.kind, item.id, item.title, item.scheduled_at, info["at"])
            if item.kind == "bulletin":
                self.store.set_bulletin_state(item.id, "on_air", info["at"])
            log.info("ON AIR %s %s %s", item.kind, item.id, item.title)
            return
        status, detail = info["status"], info.get("detail", "")
        at = info.get("at") or self.clock.now()
        row = self._rows.pop(id(item), None)
        if row is None:
            self.store.airing_record(item.kind, item.id, item.title, item.scheduled_at, status,
                                     detail, at)
        else:
            self.store.airing_ended(row, status, at, detail)
        log.info("%s %s %s%s", status.upper(), item.kind, item.id, f" ({detail})" if detail else "")
        events.airing_ended(item.kind, item.id, item.title, status, detail)
        if item.kind == "bulletin":
            self._bulletin_ended(item, status, detail)
        elif status == "interrupted" and item.scheduled_at is not None:
            self._maybe_replay(item)

    def _bulletin_ended(self, item: Item, status: str, detail: str) -> None:
        now = self.clock.now()
        if status == "aired":
            self.store.set_bulletin_state(item.id, "aired", now)
        elif status == "cancelled":
            self.store.set_bulletin_state(item.id, "cancelled", now)
        elif status == "missed":
            self.store.set_bulletin_state(item.id, "expired", now)
        elif status == "failed" and detail.startswith("output lost"):
            # Accepted bulletins are never lost: air it again, from the start, when the
            # device is back.
            self.store.set_bulletin_state(item.id, "queued", now)
            self._enqueue_bulletin(self.store.bulletin(item.id))
        elif status == "failed":
            self.store.set_bulletin_state(item.id, "failed", now)
        # "interrupted" is a shutdown: the row stays on_air and re-airs after restart.

    def _maybe_replay(self, item: Item) -> None:
        """A notice cut by an emergency is replayed from the start if still in grace."""
        notice = self.notices.notices.get(item.id)
        if notice and self.clock.now() - item.scheduled_at <= notice.grace and \
                not self.stopping:
            log.info("Notice %s was cut: it will air again from the start", item.id)
            self._render.submit(self._cue_notice, notice, item.scheduled_at)

    # -- status ----------------------------------------------------------------------
    def status(self) -> dict:
        current = self.engine.on_air()
        on_air = None
        if current is not None:
            on_air = {"kind": current.kind, "id": current.id, "title": current.title,
                      "started_at": current.started_at.isoformat(timespec="milliseconds")
                      if current.started_at else None}
        queue = [{"kind": i.kind, "id": i.id, "title": i.title,
                  "scheduled_at": i.scheduled_at.isoformat() if i.scheduled_at else None}
                 for i in self.engine.queued()]
        nxt = [{"id": n.id, "title": n.title, "at": at.isoformat()}
               for at, n in self.upcoming(24)[:20]]
        return {"on_air": on_air, "queue": queue, "next": nxt,
                "audio": "ok" if self.audio_ok else "degraded"}

    def health(self) -> dict:
        return {"status": "ok" if self.audio_ok else "degraded",
                "audio": {"ok": self.audio_ok, "detail": self.audio_detail},
                "notices": len(self.notices.notices),
                "schedule_errors": [p for ps in self.notices.errors.values() for p in ps],
                "on_air": self.engine.on_air() is not None}
