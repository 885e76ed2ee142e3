"""Helpers for the web tests: a real station (synthesis workers, SQLite, an output)
running in-process, and logging a test client in through the login form."""

import contextlib
import gc
import shutil
import textwrap
from pathlib import Path

import pytest

from announcer.accounts import Accounts
from announcer.clock import SystemClock
from announcer.config import load_config
from announcer.station import Station, make_output
from announcer.store import Store
from announcer.studio import Studio
from announcer.web.app import Services
from tests.conftest import REPO, write_config

OPERATOR, PASSWORD = "tanaka", "password123"
ADMIN, ADMIN_PASSWORD = "suzuki", "admin-pass-456"
LATE_NOTICE = "夜のお知らせ"  # airs at 23:59:59, so it is always "later today"

# Two known leaks elsewhere raise ResourceWarning under filterwarnings=error (see
# test_speech.py): render.load_clip leaves the chime files open, WorkerProcess.stop()
# leaves the worker's pipes open. Ignored narrowly, like there.
KNOWN_LEAKS = [
    pytest.mark.filterwarnings(
        "ignore:Exception ignored in.*chimes/chime_:pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings(
        r"ignore:Exception ignored in.*name=\d+ mode=:pytest.PytestUnraisableExceptionWarning"),
]


def make_station_dir(folder: Path) -> Path:
    """Like conftest's ``station_dir``, for module-scoped fixtures (tmp_path_factory),
    plus one notice late in the day."""
    shutil.copytree(REPO / "voices", folder / "voices")
    (folder / "schedules").mkdir()
    (folder / "schedules" / "late.yaml").write_text(textwrap.dedent(f"""\
        notices:
          - id: late
            title: {LATE_NOTICE}
            text: 今日の放送はこれで終わります。
            times: ["23:59:59"]
        """), encoding="utf-8")
    write_config(folder)
    return folder


@contextlib.contextmanager
def running_services(folder: Path, output=None):
    """A started studio and station with an operator and an admin; stopped on exit."""
    config = load_config(folder / "station.yaml")
    clock = SystemClock(config.station.timezone)
    store = Store(config.paths.data / "announcer.db", config.station.timezone)
    studio = Studio(config)
    station = None
    try:
        studio.start()
        station = Station(config, clock, studio, store, output or make_output(config))
        station.start()
        accounts = Accounts(store, clock)
        accounts.add_user(OPERATOR, PASSWORD, "operator")
        accounts.add_user(ADMIN, ADMIN_PASSWORD, "admin")
        yield Services(config, station, studio, accounts, store, clock)
    finally:
        if station is not None:
            station.stop()
        studio.stop()
        store.close()
        gc.collect()  # the known leaks surface now, inside a test's warning filters


def csrf(client) -> str:
    """The session's CSRF token (a page must have been rendered first)."""
    with client.session_transaction() as session:
        return session["csrf"]


def login(client, name: str = OPERATOR, password: str = PASSWORD):
    client.get("/login")
    return client.post("/login", data={"csrf_token": csrf(client), "name": name,
                                        "password": password})


def cancel_open_bulletins(services) -> None:
    for b in services.store.open_bulletins():
        services.station.cancel_bulletin(b["id"])
    services.station.engine.drain_events()
