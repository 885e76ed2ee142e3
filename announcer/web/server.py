"""Serves the Flask app with waitress (a production WSGI server) in a thread.

Stopping is ordered so that nothing touches a closed socket (waitress's own ``close()``
closes its wake-up pipe while worker threads may still answer a request and write to
it, which logs an ``OSError: Bad file descriptor`` per request in flight): first the
workers finish what they are doing, then the loop thread closes every socket itself,
and its loop ends.
"""

import logging
import threading

from waitress.server import create_server

from announcer.access.accounts import Accounts
from announcer.web.app import Services, create_app

log = logging.getLogger(__name__)
# Enough that previews (1 slot), reading try-outs (2) and login checks (1 slowed lane,
# 2 password checks) together never take every thread from the emergency path.
WEB_THREADS = 12


class WebServer:
    def __init__(self, config, station, store, studio, monitor=None):
        self.config = config
        services = Services(config, station, studio, Accounts(store, station.clock), store,
                            station.clock, monitor)
        self.app = create_app(services)
        self._server = None
        self._thread = None

    def start(self) -> None:
        self._server = create_server(self.app, host=self.config.web.host,
                                     port=self.config.web.port, threads=WEB_THREADS,
                                     ident="announcer")
        self._thread = threading.Thread(target=self._server.run, name="web", daemon=True)
        self._thread.start()
        log.info("Staff page on http://%s:%d/", self.config.web.host, self.config.web.port)

    def stop(self) -> None:
        server = self._server
        if server is None:
            return
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=2)
        if self._thread is not None and self._thread.is_alive():
            server.trigger.pull_trigger(lambda: _close_all(server))
            self._thread.join(timeout=2)
        else:
            _close_all(server)


def _close_all(server) -> None:
    """Close the listening socket, the trigger and every connection (loop thread)."""
    for dispatcher in list(server._map.values()):
        try:
            dispatcher.close()
        except OSError:
            pass
