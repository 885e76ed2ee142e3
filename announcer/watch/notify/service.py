"""Alerts: the station's trouble events, grouped into episodes, sent to every channel.

Rules:
- The only entry point is the event bus (``announcer.core.events``): the listener puts each
  event into a bounded inbox and returns; it never waits (the inbox drops on overflow).
- One ``alerts`` thread groups events (``Episodes``), words the messages, logs each one
  and hands it to every channel's courier. It also checks the data disk every minute.
- Sending happens in the couriers' threads, never here and never in the publisher's.
- Open episodes are saved in the station's database (``alert_episodes``) whenever they
  change, and taken back at start: a restart neither repeats an alarm nor forgets the
  recovery (see ``Episodes.restore``; a condition has ``START_GRACE`` seconds, the
  silence alarms ``monitor.silence_seconds`` more, to be reported again).
- A channel that refuses a message for good (``PermanentError``) is a ``notify``
  condition: reported once on the *other* channels, over at its next delivery.
"""

import json
import logging
import queue
import shutil
import sqlite3
import threading
import time

from announcer.core import events
from announcer.watch.notify.courier import Courier
from announcer.watch.notify.episodes import Episodes
from announcer.watch.notify.wording import message

log = logging.getLogger(__name__)
INBOX = 1000
DISK_EVERY = 60.0
START_GRACE = 60.0
SCHEMA = """
CREATE TABLE IF NOT EXISTS alert_episodes (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    open TEXT NOT NULL             -- JSON: Episodes.snapshot()
);
"""


class Alerts:
    def __init__(self, config, channels, bus: events.Bus = events.BUS, now=time.time,
                 disk_path=None, on_sent=None, store=None):
        self.station, self.tz = config.station.name, config.station.timezone
        self.notify, self.silence_seconds = config.notify, config.monitor.silence_seconds
        self.bus, self.now, self.store = bus, now, store
        self.episodes = Episodes(self.notify.repeat_minutes * 60, self.notify.recovery_seconds)
        self._on_sent = on_sent or (lambda channel, message: None)
        self.couriers = [Courier(c, on_sent=self._delivered, on_refused=self._refused)
                         for c in channels]
        self._keys = _unique_names(channels)
        self._refusing: set[str] = set()
        self._saved: str | None = None
        self._save_failed = ""  # the error of the last failed save, logged once
        self._load()
        self.disk_path = disk_path if disk_path is not None else config.paths.data
        self._inbox: queue.Queue = queue.Queue(INBOX)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._unsubscribe = lambda: None
        self._next_disk = 0.0
        self.lost = 0

    def start(self) -> None:
        for i, courier in enumerate(self.couriers):
            courier.start(f"notify-{i}")
            log.info("Alerts go to %s", courier.channel.name)
        if not self.couriers:
            log.info("No alert channel configured (notify.email, notify.webhooks): "
                     "alerts are only logged")
        self._unsubscribe = self.bus.subscribe(self._on_event)
        self._thread = threading.Thread(target=self._run, name="alerts", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._unsubscribe()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        for courier in self.couriers:
            courier.stop()
        self._save()

    def open_alarms(self, key: str) -> set[str]:
        """The kinds with an open episode for ``key`` (the monitor's, at start)."""
        return {kind for kind, k in self.episodes.open() if k == key}

    # -- saved episodes ------------------------------------------------------------------
    def _grace(self, kind: str) -> float | None:
        if kind == events.NOTIFY:
            return None  # only a delivery (or another refusal) can tell
        if kind in (events.SILENCE, events.ON_AIR_SILENCE):
            return self.silence_seconds + START_GRACE
        return START_GRACE

    def _load(self) -> None:
        if self.store is None:
            return
        self.store.ensure_schema(SCHEMA)
        rows = self.store.query("SELECT open FROM alert_episodes WHERE id=1")
        if not rows:
            return
        self._saved = rows[0][0]
        try:
            saved = json.loads(self._saved)
        except ValueError:
            log.error("alerts: saved episodes unreadable, starting without them")
            return
        taken = self.episodes.restore(saved, self.now(), self._grace)
        self._refusing = {key for kind, key in self.episodes.open() if kind == events.NOTIFY}
        if taken:
            log.warning("Alerts: %d episode(s) still open from before the restart: %s", taken,
                        ", ".join(f"{k}/{key}" for k, key in self.episodes.open()))

    def _save(self) -> None:
        if self.store is None:
            return
        data = json.dumps(self.episodes.snapshot(), ensure_ascii=False, sort_keys=True)
        if data == self._saved:
            return
        try:
            self.store.execute("INSERT OR REPLACE INTO alert_episodes(id, open) VALUES (1, ?)",
                               (data,))
            self._saved = data
        except sqlite3.Error as exc:  # locked or full: keep alerting, retry at the next change
            if self._save_failed != str(exc):
                log.error("alerts: open episodes not saved (%s); trying again", exc)
            self._save_failed = str(exc)
            return
        except Exception:
            log.exception("alerts: open episodes not saved")
            return
        if self._save_failed:
            log.warning("alerts: open episodes saved again")
        self._save_failed = ""

    # -- channels that refuse --------------------------------------------------------------
    def _refused(self, channel, message, error) -> None:
        """A courier's permanent failure (its thread): a ``notify`` condition."""
        key = self._keys[id(channel)]
        self._refusing.add(key)
        self.bus.publish(events.NOTIFY, key, False,
                         f"{channel.name} が「{message.subject}」を受け付けませんでした: {error}")

    def _delivered(self, channel, message) -> None:
        key = self._keys[id(channel)]
        if key in self._refusing:
            self._refusing.discard(key)
            self.bus.publish(events.NOTIFY, key, True)
        self._on_sent(channel, message)

    def _on_event(self, event: events.Event) -> None:
        try:
            self._inbox.put_nowait(event)
        except queue.Full:
            self.lost += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            wait = self.episodes.next_due(self.now())
            try:
                event = self._inbox.get(timeout=min(1.0, wait if wait is not None else 1.0))
            except queue.Empty:
                event = None
            try:
                self._step(event)
            except Exception:  # never let one bad event end the alerts
                log.exception("alerts: step failed")

    def _step(self, event) -> None:
        now = self.now()
        waiting = self.episodes.unconfirmed() if event is not None else set()
        alerts = self.episodes.feed(event, now) if event is not None else []
        ident = None if event is None else (event.kind, event.key)
        if ident in waiting and not event.ok and ident not in self.episodes.unconfirmed():
            log.info("Alert %s/%s still holds after the restart: no new alarm",
                     event.kind, event.key)
        alerts += self.episodes.due(now)
        for alert in alerts:
            self._send(alert)
        self._save()
        if now >= self._next_disk:
            self._next_disk = now + DISK_EVERY
            self.check_disk()

    def _send(self, alert) -> None:
        msg = message(alert, self.station, self.tz)
        (log.info if alert.state == "recovered" else log.error)(
            "ALERT %s %s/%s: %s", alert.state, alert.kind, alert.key, msg.subject)
        for courier in self.couriers:
            if alert.kind == events.NOTIFY and alert.state != "recovered" \
                    and self._keys[id(courier.channel)] == alert.key:
                continue  # it refuses: tell the others
            courier.post(msg)

    def check_disk(self) -> None:
        limit = self.notify.disk_free_percent
        try:
            usage = shutil.disk_usage(self.disk_path)
        except OSError as exc:
            log.warning("Cannot check the free space of %s: %s", self.disk_path, exc)
            return
        free = 100.0 * usage.free / usage.total if usage.total else 100.0
        detail = (f"{self.disk_path} の空きが {usage.free / 1e9:.1f} GB"
                  f"（{free:.0f} %、下限 {limit:g} %）です")
        self.bus.publish(events.DISK, str(self.disk_path), free >= limit, detail)


def _unique_names(channels) -> dict[int, str]:
    """Each channel's key for ``notify`` episodes: its name, numbered when two channels
    show the same (two webhooks of one chat service, masked alike)."""
    keys: dict[int, str] = {}
    for channel in channels:
        key, n = channel.name, 2
        while key in keys.values():
            key, n = f"{channel.name} ({n})", n + 1
        keys[id(channel)] = key
    return keys


def send_test(config, channels=None) -> list[tuple[str, str | None]]:
    """``announcer notify-test``: one test message to every channel, synchronously.
    Returns (channel name, error or None) for each."""
    from announcer.watch.notify.channels import build_channels
    from announcer.watch.notify.episodes import ALARM, Alert

    channels = build_channels(config.notify) if channels is None else channels
    now = time.time()
    alert = Alert(ALARM, events.TEST, "notify-test",
                  "announcer notify-test から送ったテストです。このメッセージが届いていれば、"
                  "警報はここに届きます。", now, now)
    msg = message(alert, config.station.name, config.station.timezone)
    results = []
    for channel in channels:
        try:
            channel.send(msg)
            results.append((channel.name, None))
        except Exception as exc:
            results.append((channel.name, f"{type(exc).__name__}: {exc}"))
    return results
