"""The station: notices, bulletins and the playout engine, as one service.

The daemon (``announcer.daemon``) drives it from APScheduler jobs and the web page
calls it; it owns no thread of its own besides the engine's and a small cue pool.
The work is done by its parts, which share the engine, the store and the clock:
``cueing.NoticeDesk`` (notices on time, recovery), ``bulletins.BulletinDesk``
(emergency bulletins and official information) and ``health.StationHealth`` (status,
health, attention). This class starts and stops them, routes the engine's events to
the as-run log and to the part an item belongs to, and is the one face the daemon and
the web see.

Rules of the record (the as-run log is the truth): every airing that starts has a row
from its first sample (written ``interrupted`` until it ends, which is what a crash
leaves); an item stopped by staff names who stopped it; see ``cueing`` and
``bulletins`` for what a restart recovers. Rows are written through the as-run record
(``announcer.record.asrun``): a locked or full database delays them, never loses them,
and nothing waiting there airs again. A replay's original row says "replayed from
start" only once the replay has started.

Faults are health: the record, the render cache and the station's own jobs (not run for
``JOBS_LATE`` seconds) make ``health()`` ``degraded`` with the reasons under ``faults``;
while the record cannot be written, bulletins are refused (503) with the reason.
"""

import datetime as dt
import logging
import sqlite3
import time

from announcer.core import events
from announcer.core.config import Config
from announcer.core.errors import BulletinError
from announcer.playout.engine import Engine, Item
from announcer.record.asrun import Record
from announcer.record.store import OPEN_STATES, SPOKEN, STOPPED, Store
from announcer.station.bulletins import BULLETIN_KINDS, BulletinDesk
from announcer.station import recovery
from announcer.station.cueing import NoticeDesk
from announcer.station.health import StationHealth

log = logging.getLogger(__name__)
JOBS_LATE = 5.0  # seconds without the plan, tick or heartbeat job before it is a fault
STEP_NOTIFY = 10.0  # seconds: a wall-clock step this large is an alert, smaller only logged
REFUSED = ("放送記録を書き込めないため、いま緊急放送を受け付けられません（{}）。"
           "急ぐときはマイクで直接放送し、管理者に連絡してください。")


class Station:
    def __init__(self, config: Config, clock, studio, store: Store, output):
        self.config, self.clock, self.studio = config, clock, studio
        self.store, self.output = store, output
        self.tz = config.station.timezone
        self.record = Record(store)
        self.engine = Engine(clock, config.audio.rate, self._on_event)
        self._rows: dict[int, str] = {}  # id(item) -> as-run ref
        self._stopped_by: dict[tuple[str, str], str] = {}  # (kind, id) -> staff name
        # (kind, id, scheduled_at) -> (ref of the cut row, its cause): replays queued
        self.replays: dict[tuple, tuple[str, str]] = {}
        self.desk = NoticeDesk(config, clock, studio, self.record, self.engine, output,
                               self.replays)
        self.bulletins = BulletinDesk(config, clock, studio, self.record, self.engine,
                                      self._stopped_by)
        self.watch = StationHealth(clock, studio, store, self.engine, output, self.desk)
        self.watch.faults, self.watch.recent_step = self.faults, self._recent_step
        # listener(item, status, detail, at): called on the events thread once an
        # airing's row is final (the public site, ``announcer.publish``); must not block.
        self.airing_listeners: list = []
        self.jobs: dict[str, float] = {}  # job name -> monotonic time it last ran
        self.last_step: dict | None = None  # the last wall-clock step seen

    # -- lifecycle -------------------------------------------------------------------
    def start(self, started_at: dt.datetime | None = None) -> None:
        """Load notices, recover what a previous run left (``started_at``: when this
        process started, so that airings due during start-up are not lost), and start
        the output without waiting for the device."""
        self.record.open()  # what a previous run left in the journal, first
        self.reload_notices()
        self.recover(started_at)
        self.heartbeat()
        self.output.start(self.engine.pull, self._on_health)

    def stop(self) -> None:
        """Fade out what is on air (≤ 1 s), log what was queued, release the device."""
        self.desk.stop()
        self.engine.fade_out_all()
        deadline = time.monotonic() + 1.0  # real time: the output plays the fade
        while self.engine.on_air() is not None and time.monotonic() < deadline \
                and self.output.healthy:
            time.sleep(0.02)
        self.output.stop()
        self.engine.end_now()
        self.engine.drain_events()
        self.engine.close()
        self.desk.close()
        self.record.close()

    @property
    def config(self) -> Config:
        return self._config

    @config.setter
    def config(self, config: Config) -> None:
        """A new config reaches every part (tests change limits on a running station)."""
        self._config = config
        for part in (getattr(self, "desk", None), getattr(self, "bulletins", None)):
            if part is not None:
                part.config = config

    @property
    def stopping(self) -> bool:
        return self.desk.stopping

    def recover(self, started_at: dt.datetime | None = None) -> None:
        """After a (re)start: notices due within grace air, the rest are logged missed;
        every accepted bulletin not finished airs from the start, and the row of one cut
        by a crash gets its end (the last heartbeat) and says so."""
        self.desk.recover(started_at)
        recovery.end_cut_bulletins(self.record, self.store, self.clock, self.replays)
        self.bulletins.recover()

    def heartbeat(self) -> None:
        try:
            self.store.set_state("last_alive", self.clock.now().isoformat(), durable=False)
        except sqlite3.Error:  # the record's thread checks, and says when it is a fault
            self.record.suspect()
        tick = getattr(self.studio, "tick", None)  # speech health (crashing workers)
        if tick is not None:
            tick()

    def job_ran(self, name: str) -> None:
        """The daemon's jobs report here (``health`` notices jobs that stopped)."""
        self.jobs[name] = time.monotonic()

    def clock_stepped(self, seconds: float) -> None:
        """The wall clock stepped (``StepWatch``): log it, tell the notices, alert when
        large. What is due is decided by the new time; nothing aired is aired again."""
        way = "forward" if seconds > 0 else "back"
        log.warning("The wall clock stepped %s by %.1f s (now %s)", way, abs(seconds),
                    self.clock.now().isoformat(timespec="seconds"))
        self.last_step = {"seconds": round(seconds, 1),
                          "at": self.clock.now().isoformat(timespec="seconds")}
        self.desk.clock_stepped(seconds)
        if abs(seconds) >= STEP_NOTIFY:
            words = "進みました" if seconds > 0 else "戻りました"
            events.publish(events.CLOCK, "wall", False,
                           f"本体の時計が {abs(seconds):.0f} 秒{words}（時刻合わせ）。"
                           "これからの放送は新しい時刻で判断します")

    def _on_health(self, ok: bool, detail: str) -> None:
        self.watch.output_reported(detail)
        self.engine.output_health(ok, detail)
        events.publish(events.AUDIO, "output", ok, detail)

    # -- notices (``cueing``) --------------------------------------------------------
    @property
    def notices(self):
        """The ``NoticeSet`` in effect."""
        return self.desk.notices

    def reload_notices(self, force: bool = False) -> bool:
        return self.desk.reload(force)

    def upcoming(self, hours: float = 24, start: dt.datetime | None = None):
        return self.desk.upcoming(hours, start)

    def prerender(self, minutes: float | None = None) -> int:
        return self.desk.prerender(minutes)

    def plan(self) -> None:
        self.desk.plan()

    def cue(self, notice, at: dt.datetime, order: int = 0) -> None:
        self.desk.cue(notice, at, order)

    def wait_cues(self, timeout: float = 10.0) -> None:
        self.desk.wait_cues(timeout)

    def stop_notice(self, notice_id: str, by: str = "") -> bool:
        """Take a notice off air (short fade) or out of the queue; it is not replayed.
        False if that notice is neither on air nor queued."""
        current = self.engine.on_air()
        queued = any((i.kind, i.id) == ("notice", notice_id) for i in self.engine.queued())
        if not queued and (current is None or (current.kind, current.id) != ("notice", notice_id)):
            return False
        self._stopped_by[("notice", notice_id)] = by
        if self.engine.cancel("notice", notice_id):
            return True
        self._stopped_by.pop(("notice", notice_id), None)
        return False

    def stop_item(self, kind: str, item_id: str, by: str = "") -> bool:
        """Stop any item on air or queued, whatever its kind (notice, bulletin, alert);
        False if no such item is on air or queued."""
        if kind == "notice":
            return self.stop_notice(item_id, by)
        if kind not in BULLETIN_KINDS:
            return False
        b = self.store.bulletin(item_id)
        if b is None or b.get("kind", "bulletin") != kind or b["state"] not in OPEN_STATES:
            return False
        return self.cancel_bulletin(item_id, by)

    # -- bulletins (``bulletins``) ---------------------------------------------------
    def validate_bulletin(self, text, repeat=2, test=False, voice=None):
        return self.bulletins.validate(text, repeat, test, voice)

    def submit_bulletin(self, text: str, **options) -> tuple[str, bool]:
        """See ``BulletinDesk.submit``: validate, commit to disk, then queue. While the
        record cannot be written a bulletin is refused (503) with the reason: it could
        neither be kept nor logged. (Official information, kind ``alert``, still tries.)"""
        if self.record.cause and options.get("kind", "bulletin") == "bulletin":
            raise BulletinError(REFUSED.format(self.record.cause), 503)
        try:
            return self.bulletins.submit(text, **options)
        except sqlite3.Error as exc:
            self.record.note(exc)
            raise BulletinError(REFUSED.format(self.record.cause), 503) from None

    def cancel_bulletin(self, bid: str, by: str = "") -> bool:
        return self.bulletins.cancel(bid, by)

    def reair_bulletin(self, bid: str, by: str, request_key: str | None = None) -> str:
        """The same script again, as a new bulletin linked to ``bid``; the new id."""
        return self.bulletins.reair(bid, by, request_key)

    @property
    def relay_in_force(self):
        """``bulletin id -> bool``: whether a cut relay (JMA) is still in force and so
        airs again after the person's bulletin (the daemon wires the JMA service)."""
        return self.bulletins.relay_in_force

    @relay_in_force.setter
    def relay_in_force(self, check) -> None:
        self.bulletins.relay_in_force = check

    def bulletin(self, bid: str) -> dict | None:
        return self.store.bulletin(bid)

    # -- status and health (``health``) ----------------------------------------------
    @property
    def health_extras(self) -> dict:
        """name -> callable: more /healthz fields (jma)."""
        return self.watch.extras

    @property
    def audio_detail(self) -> str:
        return self.watch.audio_detail

    @property
    def audio_ok(self) -> bool:
        return self.watch.audio_ok

    @property
    def state(self) -> str:
        state = self.watch.state
        return "degraded" if state == "ok" and self.faults() else state

    def _recent_step(self) -> dict | None:
        """The last wall-clock step, if large (an alert) and within the last hour."""
        step = self.last_step
        if not step or abs(step["seconds"]) < STEP_NOTIFY:
            return None
        age = self.clock.now() - dt.datetime.fromisoformat(step["at"])
        return step if abs(age) <= dt.timedelta(hours=1) else None

    def faults(self) -> list[dict]:
        """What keeps the station from being ``ok`` besides its audio: the record, the
        render cache, its own jobs. Each {"kind", "detail"} (detail in staff words)."""
        found = []
        if self.record.fault:
            found.append({"kind": events.RECORD, "detail": self.record.fault})
        cache_fault = getattr(getattr(self.studio, "cache", None), "fault", None)
        if cache_fault:
            found.append({"kind": events.CACHE, "detail": cache_fault})
        now = time.monotonic()
        late = [name for name in ("plan", "tick", "heartbeat")
                if name in self.jobs and now - self.jobs[name] > JOBS_LATE]
        if late:
            found.append({"kind": "jobs", "detail": "放送の予定を動かす処理が "
                          f"{now - min(self.jobs[n] for n in late):.0f} 秒止まっています"
                          f"（{', '.join(late)}）"})
        return found

    def status(self) -> dict:
        status = self.watch.status()
        faults = self.faults()
        if faults:
            status["faults"] = faults
            if status["state"] == "ok":
                status["state"] = "degraded"
        return status

    def health(self) -> dict:
        health = self.watch.health()
        faults = self.faults()
        health["faults"] = faults
        health["record"] = self.record.health()
        health["clock"] = {"last_step": self.last_step}
        if faults and health["status"] == "ok":
            health["status"] = "degraded"
        return health

    def needs_attention(self, days: int = 7) -> list[dict]:
        return self.watch.needs_attention(days)

    def acknowledge(self, rowid: int, by: str) -> bool:
        return self.watch.acknowledge(rowid, by)

    # -- events from the engine (events thread) -------------------------------------
    def _on_event(self, event: str, item: Item, info: dict) -> None:
        """Never raises: the record keeps what it cannot write yet (``asrun``)."""
        if event == "start":
            with self.record.together():
                self._rows[id(item)] = self.record.airing_started(
                    item.kind, item.id, item.title, item.scheduled_at, info["at"],
                    voice=item.voice)
                if item.kind in BULLETIN_KINDS:
                    self.record.set_bulletin_state(item.id, "on_air", info["at"])
                replay = self.replays.pop((item.kind, item.id, item.scheduled_at), None)
                if replay is not None:  # only now is it true
                    self.record.mark_resolved(replay[0], f"{replay[1]}; replayed from start")
            log.info("ON AIR %s %s %s", item.kind, item.id, item.title)
            return
        if event == "spoken":  # a crash from now on leaves nothing to air again
            if id(item) in self._rows:
                self.record.mark_resolved(self._rows[id(item)], SPOKEN)
            return
        status, detail = info["status"], info.get("detail", "")
        by = self._stopped_by.pop((item.kind, item.id), None)
        if status == "cancelled" and by:
            detail = f"{by} が停止しました"
        at = info.get("at") or self.clock.now()
        ref = self._rows.pop(id(item), None)
        if ref is None and item.kind != "notice" and detail == STOPPED:
            # Queued at a stop: it stays open in the database and airs after the restart.
            log.info("%s %s stays queued for after the restart", item.kind, item.id)
            return
        if status == "interrupted" and item.spoken:  # only its tail silence was cut
            status, detail = "aired", ""
        if item.kind in BULLETIN_KINDS:  # a person's cut of a relay, a re-air
            detail = self.bulletins.detail_for(item, status, detail, self.stopping)
        cut = ref is not None and item.kind == "notice" and status == "interrupted" \
            and (not detail or detail.startswith("cut in by "))
        if cut:  # by an emergency: replayed within grace, and the row says which
            detail = self.desk.cut_by_emergency(item, ref)
        with self.record.together():  # the row's end and the bulletin's state, or neither
            if ref is None:
                self.record.airing_record(item.kind, item.id, item.title, item.scheduled_at,
                                          status, detail, at, voice=item.voice)
            else:
                self.record.airing_ended(ref, status, at, detail)
            if item.kind in BULLETIN_KINDS:
                self.bulletins.ended(item, status, detail, self.stopping)
        log.info("%s %s %s%s", status.upper(), item.kind, item.id, f" ({detail})" if detail else "")
        events.airing_ended(item.kind, item.id, item.title, status, detail)
        self._tell_listeners(item, status, detail, at)

    def _tell_listeners(self, item: Item, status: str, detail: str, at) -> None:
        for listener in self.airing_listeners:
            try:
                listener(item, status, detail, at)
            except Exception:  # a listener's fault never costs the station its events
                log.exception("airing listener failed on %s", item.tag)
