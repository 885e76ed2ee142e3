"""Run the real daemon as a subprocess, as systemd would, and talk to its HTTP API.
The ``daemon`` fixture (a daemon on the PulseAudio null sink, not started yet) is used by
importing it into a test module."""

import datetime as dt
import json
import os
import random
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from announcer.core.clock import TOKYO
from tests.conftest import write_config

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A port nothing listens on, from a range of this test worker's own (pytest-xdist
    runs several) and below the kernel's ephemeral range (32768-60999), so neither
    another worker's daemon nor an outgoing connection can take it before the daemon
    binds it."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:]
    low = 20000 + (int(worker) % 8 if worker.isdigit() else 0) * 1500
    for _ in range(500):
        port = random.randrange(low, low + 1500)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


def jst_in(seconds: float) -> dt.datetime:
    t = dt.datetime.now(TOKYO) + dt.timedelta(seconds=seconds)
    return t.replace(microsecond=0) + dt.timedelta(seconds=1)


def write_notice(folder: Path, name: str, notice_id: str, when: dt.datetime,
                 text: str = "明日は燃えるごみの収集日です。", extra: str = "") -> None:
    (folder / "schedules" / f"{name}.yaml").write_text(textwrap.dedent(f"""\
        notices:
          - id: {notice_id}
            text: {text}
            times: ["{when:%H:%M:%S}"]
        """) + extra, encoding="utf-8")


def schedule_prerendered(daemon: "Daemon", folder: Path, name: str, notice_id: str,
                         lead: float = 4, text: str = "明日は燃えるごみの収集日です。",
                         extra: str = "") -> dt.datetime:
    """Schedule a notice ``lead`` seconds ahead whose audio is already rendered, so that a
    test of punctuality does not depend on how fast this machine renders: the notice is
    first written 20 minutes ahead (the daemon pre-renders it), then moved to now+lead."""
    cache = folder / "var" / "cache"
    before = set(cache.glob("*.s16")) if cache.exists() else set()
    write_notice(folder, name, notice_id, jst_in(20 * 60), text=text, extra=extra)
    daemon.wait_for(lambda: set(cache.glob("*.s16")) - before, timeout=120, interval=0.2)
    when = jst_in(lead)
    write_notice(folder, name, notice_id, when, text=text, extra=extra)
    return when


class Daemon:
    def __init__(self, folder: Path, env: dict, port: int):
        self.folder, self.env, self.port = folder, env, port
        self.proc: subprocess.Popen | None = None
        self.log = folder / "daemon.log"

    def start(self, wait_audio: bool = True, timeout: float = 40) -> "Daemon":
        self.spawn()
        return self.wait_ready(wait_audio, timeout)

    def spawn(self) -> "Daemon":
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "announcer.cli", "--config",
                 str(self.folder / "station.yaml"), "run"],
                env=self.env, stdout=subprocess.DEVNULL, stderr=log, cwd=REPO)
        return self

    def wait_ready(self, wait_audio: bool = True, timeout: float = 40) -> "Daemon":
        """Poll /healthz until it answers (and, with ``wait_audio``, says ``ok``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited {self.proc.returncode}:\n{self.log_text()}")
            try:
                health = self.get("/healthz")
                if not wait_audio or health["status"] == "ok":
                    return self
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"daemon not ready:\n{self.log_text()}")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def terminate(self, timeout: float = 10) -> int:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGUSR1)  # thread dump into the log
                time.sleep(1)
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"no exit after SIGTERM:\n{self.log_text()}") from None
        return self.proc.returncode if self.proc else 0

    def request(self, method: str, path: str, body=None, token: str | None = None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data,
                                     method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def get(self, path: str, token: str | None = None):
        status, body = self.request("GET", path, token=token)
        if status != 200:
            raise urllib.error.URLError(f"{path}: {status}")
        return body

    def wait_for(self, predicate, timeout: float = 20, interval: float = 0.1):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(interval)
        raise AssertionError(f"timed out; daemon log:\n{self.log_text()}")


def cli(folder: Path, *args: str, stdin: str | None = None, env=None):
    return subprocess.run([sys.executable, "-m", "announcer.cli", "--config",
                           str(folder / "station.yaml"), *args], input=stdin,
                          capture_output=True, text=True, env=env or os.environ, cwd=REPO)


def make_token(folder: Path) -> str:
    result = cli(folder, "token", "create", "test")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture
def daemon(station_dir, pulse):
    """A daemon for ``station_dir`` playing to the null sink; terminated afterwards."""
    port = free_port()
    write_config(station_dir, device="default", port=port)
    d = Daemon(station_dir, pulse.env, port)
    yield d
    d.terminate()
