"""Who watches the station at 3 a.m.: the alerts and the optional silence monitor,
started and stopped as one pair by the daemon (``announcer.daemon``).

Neither may stop the station from airing: if they cannot start (an unreadable SMTP
password file, a broken monitor device) the daemon logs it loudly and airs anyway.
The alerts start first: the silence alarms they still hold open from before a restart
are handed to the monitor, so it neither repeats nor forgets them.
"""

import logging

from announcer.core import events

log = logging.getLogger(__name__)


def on_air_title(station):
    """A function: the title of our own item on air now, or None."""
    def title():
        item = station.engine.on_air()
        return None if item is None else (item.title or item.id)
    return title


class Oversight:
    def __init__(self, config, station, store, bus: events.Bus = events.BUS):
        self.config, self.station, self.store, self.bus = config, station, store, bus
        self.alerts = None
        self.monitor = None

    def start(self) -> None:
        from announcer.watch.notify.channels import build_channels
        from announcer.watch.notify.service import Alerts

        try:
            self.alerts = Alerts(self.config, build_channels(self.config.notify), self.bus,
                                 store=self.store)
            self.alerts.start()
        except Exception:
            log.exception("ALERTS ARE NOT AVAILABLE: nobody will be told about trouble")
            self.alerts = None
        if self.config.monitor.device:
            from announcer.watch.monitor.service import Monitor

            held = self.alerts.open_alarms("monitor") if self.alerts is not None else set()
            try:
                self.monitor = Monitor(self.config.monitor, self.store,
                                       on_air_title(self.station), self.bus, open_alarms=held)
                self.monitor.start()
            except Exception:
                log.exception("THE SILENCE MONITOR IS NOT AVAILABLE")
                self.monitor = None

    def stop(self) -> None:
        for part in (self.monitor, self.alerts):
            if part is not None:
                try:
                    part.stop()
                except Exception:
                    log.exception("while stopping %s", type(part).__name__)
