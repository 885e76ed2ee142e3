"""Serves the Flask app with waitress (a production WSGI server) in a thread."""

import logging
import threading

from waitress.server import create_server

from announcer.accounts import Accounts
from announcer.web.app import Services, create_app

log = logging.getLogger(__name__)


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
                                     port=self.config.web.port, threads=8,
                                     ident="announcer")
        self._thread = threading.Thread(target=self._server.run, name="web", daemon=True)
        self._thread.start()
        log.info("Staff page on http://%s:%d/", self.config.web.host, self.config.web.port)

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._thread is not None:
            self._thread.join(timeout=2)
