"""Alerts: the station's trouble events, grouped into episodes, sent to every channel.

Rules:
- The only entry point is the event bus (``announcer.core.events``): the listener puts each
  event into a bounded inbox and returns; it never waits (the inbox drops on overflow).
- One ``alerts`` thread groups events (``Episodes``), words the messages, logs each one
  and hands it to every channel's courier. It also checks the data disk every minute.
- Sending happens in the couriers' threads, never here and never in the publisher's.
"""

import logging
import queue
import shutil
import threading
import time

from announcer.core import events
from announcer.watch.notify.courier import Courier
from announcer.watch.notify.episodes import Episodes
from announcer.watch.notify.wording import message

log = logging.getLogger(__name__)
INBOX = 1000
DISK_EVERY = 60.0


class Alerts:
    def __init__(self, config, channels, bus: events.Bus = events.BUS, now=time.time,
                 disk_path=None, on_sent=None):
        self.station, self.tz = config.station.name, config.station.timezone
        self.notify = config.notify
        self.bus, self.now = bus, now
        self.episodes = Episodes(self.notify.repeat_minutes * 60, self.notify.recovery_seconds)
        self.couriers = [Courier(c, on_sent=on_sent) for c in channels]
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
        alerts = self.episodes.feed(event, now) if event is not None else []
        alerts += self.episodes.due(now)
        for alert in alerts:
            self._send(alert)
        if now >= self._next_disk:
            self._next_disk = now + DISK_EVERY
            self.check_disk()

    def _send(self, alert) -> None:
        msg = message(alert, self.station, self.tz)
        (log.info if alert.state == "recovered" else log.error)(
            "ALERT %s %s/%s: %s", alert.state, alert.kind, alert.key, msg.subject)
        for courier in self.couriers:
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
