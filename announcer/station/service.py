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
``bulletins`` for what a restart recovers.
"""

import datetime as dt
import logging
import time

from announcer.core import events
from announcer.core.config import Config
from announcer.playout.engine import Engine, Item
from announcer.record.store import OPEN_STATES, STOPPED, Store
from announcer.station.bulletins import BULLETIN_KINDS, BulletinDesk
from announcer.station.cueing import NoticeDesk
from announcer.station.health import StationHealth

log = logging.getLogger(__name__)


class Station:
    def __init__(self, config: Config, clock, studio, store: Store, output):
        self.config, self.clock, self.studio = config, clock, studio
        self.store, self.output = store, output
        self.tz = config.station.timezone
        self.engine = Engine(clock, config.audio.rate, self._on_event)
        self._rows: dict[int, int] = {}  # id(item) -> airlog rowid
        self._stopped_by: dict[tuple[str, str], str] = {}  # (kind, id) -> staff name
        self.desk = NoticeDesk(config, clock, studio, store, self.engine, output)
        self.bulletins = BulletinDesk(config, clock, studio, store, self.engine,
                                      self._stopped_by)
        self.watch = StationHealth(clock, studio, store, self.engine, output, self.desk)
        # listener(item, status, detail, at): called on the events thread once an
        # airing's row is final (the public site, ``announcer.publish``); must not block.
        self.airing_listeners: list = []

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
        every accepted bulletin not finished airs from the start."""
        self.desk.recover(started_at)
        self.bulletins.recover()

    def heartbeat(self) -> None:
        self.store.set_state("last_alive", self.clock.now().isoformat(), durable=False)
        tick = getattr(self.studio, "tick", None)  # speech health (crashing workers)
        if tick is not None:
            tick()

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
        """See ``BulletinDesk.submit``: validate, commit to disk, then queue."""
        return self.bulletins.submit(text, **options)

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
        return self.watch.state

    def status(self) -> dict:
        return self.watch.status()

    def health(self) -> dict:
        return self.watch.health()

    def needs_attention(self, days: int = 7) -> list[dict]:
        return self.watch.needs_attention(days)

    def acknowledge(self, rowid: int, by: str) -> bool:
        return self.watch.acknowledge(rowid, by)

    # -- events from the engine (events thread) -------------------------------------
    def _on_event(self, event: str, item: Item, info: dict) -> None:
        if event == "start":
            self._rows[id(item)] = self.store.airing_started(
                item.kind, item.id, item.title, item.scheduled_at, info["at"], voice=item.voice)
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
        if item.kind in BULLETIN_KINDS:  # a person's cut of a relay, a re-air
            detail = self.bulletins.detail_for(item, status, detail, self.stopping)
        if row is None:
            self.store.airing_record(item.kind, item.id, item.title, item.scheduled_at, status,
                                     detail, at, voice=item.voice)
        else:
            self.store.airing_ended(row, status, at, detail)
        log.info("%s %s %s%s", status.upper(), item.kind, item.id, f" ({detail})" if detail else "")
        events.airing_ended(item.kind, item.id, item.title, status, detail)
        self._tell_listeners(item, status, detail, at)
        if item.kind in BULLETIN_KINDS:
            self.bulletins.ended(item, status, detail, self.stopping)
        elif status == "interrupted" and item.scheduled_at is not None:
            self.desk.replay_if_in_grace(item)

    def _tell_listeners(self, item: Item, status: str, detail: str, at) -> None:
        for listener in self.airing_listeners:
            try:
                listener(item, status, detail, at)
            except Exception:  # a listener's fault never costs the station its events
                log.exception("airing listener failed on %s", item.tag)
