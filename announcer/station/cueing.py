"""Notices on their second: loaded, rendered ahead, cued, and recovered after a restart.

Rules of the record (the as-run log is the truth):
- every airing due from the moment the process started airs within its grace or gets a
  row saying why not, on a first start with an empty database too;
- a notice cut on air by a stop of the daemon (SIGTERM) or by a crash (kill -9) is
  replayed from the start after the restart if still within grace, else its row says
  it was too late; the same for notices queued (not started) when the daemon stopped,
  which are logged ``missed`` with detail ``stopped`` at the stop;
- a notice cut by an emergency is replayed from the start while within its grace;
- nothing synthesizes at air time: notices are rendered ``prerender_minutes`` ahead and
  handed to the engine ``CUE_LEAD`` seconds early with a monotonic start time;
- an airing that has a row (aired, or waiting in the record's journal) is never planned
  again: a wall clock stepped back, or a restart with it behind, re-airs nothing; while
  the clock catches up with what was already planned, nothing new is due;
- a plan that starts late (its job did not run, or the wall clock stepped forward)
  catches up like a restart: within grace one late airing per notice, the rest ``missed``
  saying why (``clock stepped forward``, ``station jobs stalled``, ``superseded by a
  later airing``);
- what a restart recovers is ``announcer.station.recovery``;
- a notice is read in its own ``voice``, else in the one ``speech.rotation`` gives at
  its time of day, else in the station's default voice.
"""

import datetime as dt
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from announcer.core import events
from announcer.notices import schedule
from announcer.notices.files import NoticeSet, dir_signature, load_notice_dir
from announcer.playout.engine import NOTICE, Item
from announcer.playout.sources import ArraySource
from announcer.record.store import STOPPED
from announcer.station import recovery
from announcer.studio.voices import rotation_voice

log = logging.getLogger(__name__)
CUE_LEAD = 2.0  # seconds: notices are handed to the engine this early, timed to the block
CUE_THREADS = 4  # a cue that misses the cache never delays another notice's cue
LATE_PLAN = 1.0  # seconds: a plan window starting this far in the past is caught up
RENDER_RETRY = 5.0  # seconds between render tries that failed on the disk (within grace)
SILENT = 10 ** (-60 / 20)  # full scale: below this a notice's tail is silence


def spoken_at(audio) -> int:
    """The sample after the last sound (above −60 dBFS) of a rendered notice: from there
    on only its tail silence is left. Looks back from the end, a second at a time."""
    loud = (32768.0 if audio.dtype.kind == "i" else 1.0) * SILENT
    end = len(audio)
    while end > 0:
        start = max(0, end - 48000)
        found = np.flatnonzero(np.abs(np.asarray(audio[start:end], np.float32)) >= loud)
        if found.size:
            return start + int(found[-1]) + 1
        end = start
    return 0


class NoticeDesk:
    """The notices part of the station. ``output`` only lends its latency."""

    def __init__(self, config, clock, studio, store, engine, output, replays=None):
        self.config, self.clock, self.studio = config, clock, studio
        self.store, self.engine, self.output = store, engine, output
        self.replays = replays if replays is not None else {}  # see Station.replays
        self.tz = config.station.timezone
        self.notices = NoticeSet()
        self.stopping = False
        self._halt = threading.Event()
        self._signature = None
        self._planned_until: dt.datetime | None = None
        self._last_plan: tuple[dt.datetime, float] | None = None  # (wall, monotonic)
        self._lock = threading.RLock()
        self._render = ThreadPoolExecutor(max_workers=CUE_THREADS, thread_name_prefix="cue")
        self._cues: dict[tuple[str, dt.datetime], object] = {}  # being rendered -> future
        self._cued: set[tuple[str, dt.datetime]] = set()  # cued in the last hour
        self._prerender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prerender")

    def stop(self) -> None:
        """No more cues; every cue still rendering is logged ``missed``/``stopped``."""
        with self._lock:
            self.stopping = True
            self._halt.set()
            pending = list(self._cues)
        for notice_id, at in pending:  # being rendered: never reached the engine
            self._record_stopped(notice_id, at)

    def close(self) -> None:
        self._render.shutdown(wait=False, cancel_futures=True)
        self._prerender.shutdown(wait=False, cancel_futures=True)

    # -- the notice files ------------------------------------------------------------
    def reload(self, force: bool = False) -> bool:
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

    def _voice(self, notice, at: dt.datetime) -> str | None:
        """The preset this airing is read in (None: the station's default)."""
        return notice.voice or rotation_voice(self.config.speech.rotation,
                                              at.astimezone(self.tz).time())

    def _notice_audio(self, notice, at: dt.datetime):
        return self.studio.render_notice(notice.text, voice=self._voice(notice, at),
                                         chime=notice.chime, repeat=notice.repeat)

    def prerender(self, minutes: float | None = None) -> int:
        """Render every notice due within ``minutes`` that is not cached yet."""
        minutes = minutes if minutes is not None else self.config.playout.prerender_minutes
        done = 0
        seen = set()
        for at, notice in self.upcoming(minutes / 60):
            if (notice.id, self._voice(notice, at)) in seen:
                continue
            seen.add((notice.id, self._voice(notice, at)))
            try:
                try:
                    self._notice_audio(notice, at)
                except Exception as exc:  # once more before any alarm: a passing fault
                    log.warning("Render of notice %s failed, trying again: %s", notice.id, exc)
                    self._notice_audio(notice, at)
                done += 1
            except Exception as exc:
                log.error("Cannot render notice %s (%s): %s", notice.id, notice.source, exc)
                events.publish(events.RENDER, notice.id, False, f"{notice.title or notice.id}: {exc}")
            if getattr(getattr(self.studio, "cache", None), "fault", None):
                break  # the cache cannot keep renders: one try per pass, cues render live
        return done

    # -- cueing ----------------------------------------------------------------------
    def plan(self) -> None:
        """Cue the notices due within CUE_LEAD seconds (each airing once)."""
        now, mono = self.clock.now(), self.clock.monotonic()
        start = self._planned_until or now
        end = now + dt.timedelta(seconds=CUE_LEAD)
        if (now - start).total_seconds() > LATE_PLAN:
            self._catch_up(start, now, mono)
            start = now
        self._last_plan = (now, mono)
        if end <= start:  # the clock stepped back: all before ``start`` was planned
            return
        self._planned_until = end
        for airing in schedule.airings_between(self.notices.notices.values(), start, end,
                                               tz=self.tz):
            if not self.store.has_airing("notice", airing.notice_id, airing.at):
                self.cue(self.notices.notices[airing.notice_id], airing.at, airing.order)

    def _catch_up(self, start: dt.datetime, now: dt.datetime, mono: float) -> None:
        """The window from ``start`` is already past: air what is within grace (one late
        airing per notice), log the rest missed with the reason."""
        why = "station jobs stalled" if self._last_plan else "due while the daemon was starting"
        if self._last_plan is not None:
            wall, mono0 = self._last_plan
            step = (now - wall).total_seconds() - (mono - mono0)
            if step > LATE_PLAN:
                why = "clock stepped forward"
                log.warning("Plan: the wall clock stepped forward %.1f s", step)
        notices = self.notices.notices
        air_now, missed = schedule.classify_missed(notices.values(), start, now, tz=self.tz)
        for a in missed:
            if self.store.has_airing("notice", a.notice_id, a.at):
                continue
            detail = why if now - a.at > notices[a.notice_id].grace else \
                "superseded by a later airing"
            log.warning("Missed notice %s of %s (%s)", a.notice_id, a.at, detail)
            self.store.airing_record("notice", a.notice_id, notices[a.notice_id].title, a.at,
                                     "missed", detail, at=now)
        for a in air_now:
            if not self.store.has_airing("notice", a.notice_id, a.at):
                log.warning("Notice %s of %s airs late (%s)", a.notice_id, a.at, why)
                self.cue(notices[a.notice_id], a.at, a.order)

    def clock_stepped(self, seconds: float) -> None:
        """A step seen by the clock watch: ``plan`` decides by the new time (see the
        module rules); here it is only made visible."""
        if seconds < 0 and self._planned_until is not None:
            log.warning("Notices planned up to %s are not planned again: nothing is due "
                        "until the clock is back there", self._planned_until.isoformat(
                            timespec="seconds"))

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

    def order_of(self, notice_id: str) -> int:
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

    def _audio_for(self, notice, at: dt.datetime, at_mono: float):
        """The notice's audio; a failure of the disk is tried again every RENDER_RETRY
        seconds while the airing is within grace."""
        deadline = at_mono + notice.grace.total_seconds()
        while True:
            try:
                return self._notice_audio(notice, at)
            except OSError as exc:
                if self.clock.monotonic() + RENDER_RETRY > deadline or self.stopping:
                    raise
                log.warning("Notice %s not rendered (%s): trying again", notice.id, exc)
                if self._halt.wait(RENDER_RETRY):
                    raise

    def _render_and_queue(self, notice, at: dt.datetime, at_mono: float, order: int) -> None:
        """Render (normally a cache hit) and hand the airing to the engine."""
        try:
            audio = self._audio_for(notice, at, at_mono)
        except Exception as exc:
            if self.stopping:
                return  # logged as stopped by ``stop``
            log.error("Notice %s could not be rendered: %s", notice.id, exc)
            events.publish(events.RENDER, notice.id, False, f"{notice.title or notice.id}: {exc}")
            why = "disk full" if getattr(exc, "errno", None) == 28 else exc
            self.store.airing_record("notice", notice.id, notice.title, at, "failed",
                                     f"render failed: {why}", at=self.clock.now())
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
                                     deadline=deadline, scheduled_at=at, order=order,
                                     voice=self.studio.voice(self._voice(notice, at)).id,
                                     spoken_at=spoken_at(audio)))
            self._cues.pop((notice.id, at), None)

    # -- after a restart, after a cut ------------------------------------------------
    def recover(self, started_at: dt.datetime | None = None) -> None:
        """After a (re)start: see ``announcer.station.recovery``."""
        self._planned_until = self.clock.now()
        recovery.recover(self, started_at)

    def cut_by_emergency(self, item: Item, ref: str) -> str:
        """A notice cut on air by an emergency: replayed from the start if still within
        grace. Returns the detail of its row."""
        notice = self.notices.notices.get(item.id)
        if notice and self.clock.now() - item.scheduled_at <= notice.grace and \
                not self.stopping:
            log.info("Notice %s was cut: it will air again from the start", item.id)
            self.replays[("notice", item.id, item.scheduled_at)] = (ref, recovery.EMERGENCY_CUT)
            self.cue(notice, item.scheduled_at, item.order)
            return f"{recovery.EMERGENCY_CUT}; {recovery.QUEUED}"
        return f"{recovery.EMERGENCY_CUT}; {recovery.TOO_LATE}"
