"""The real daemon on the PulseAudio null sink: what falls due while it starts, what a
stop cuts, and the systemd notifications (READY, WATCHDOG). No assumption on how fast
the machine is: the daemon is frozen (SIGSTOP) across a notice's time to put that time
inside its start-up, and everything else waits for readiness first."""

import datetime as dt
import os
import signal
import socket
import time

import pytest

from tests.conftest import write_config
from tests.daemonutil import (Daemon, daemon, free_port, jst_in,  # noqa: F401 (fixture)
                              make_token, write_notice)

pytestmark = [pytest.mark.audio, pytest.mark.slow]


def airlog(d, token, status=None):
    return [r for r in d.get("/api/airlog", token=token)
            if status is None or r["status"] == status]


def test_a_notice_due_during_the_first_start_airs(daemon, station_dir, pulse):
    token = make_token(station_dir)  # a fresh database: no heartbeat of a previous run
    when = jst_in(1)
    write_notice(station_dir, "gomi", "gomi", when)
    rec = pulse.record()
    daemon.spawn()
    daemon.proc.send_signal(signal.SIGSTOP)  # still importing: its start-up spans `when`
    while dt.datetime.now(when.tzinfo) < when + dt.timedelta(seconds=1):
        time.sleep(0.05)
    daemon.proc.send_signal(signal.SIGCONT)
    daemon.wait_ready()
    row = daemon.wait_for(lambda: airlog(daemon, token, "aired"), timeout=30)[0]
    rec.stop()
    assert (row["id"], row["scheduled_at"]) == ("gomi", when.isoformat(timespec="milliseconds"))
    assert dt.datetime.fromisoformat(row["started_at"]) > when
    assert rec.sound_seconds() > 2
    assert len(airlog(daemon, token)) == 1


def test_sigterm_during_a_notice_replays_it_after_the_restart(daemon, station_dir, pulse):
    token = make_token(station_dir)
    daemon.start()
    when = jst_in(3)
    write_notice(station_dir, "long", "long", when, text="本日は晴天なり。" * 12)
    daemon.wait_for(lambda: daemon.get("/healthz")["on_air"], timeout=30)
    assert daemon.terminate() == 0  # systemctl restart
    rec = pulse.record()
    daemon.start()
    aired = daemon.wait_for(lambda: airlog(daemon, token, "aired"), timeout=90, interval=0.5)
    rec.stop()
    rows = airlog(daemon, token)
    assert rows[0]["status"] == "interrupted"
    assert rows[0]["detail"] == "stopped; replayed from start"
    assert aired[0]["scheduled_at"] == when.isoformat(timespec="milliseconds")
    assert len(rows) == 2
    assert rec.sound_seconds() > 10  # the whole notice, from the start


@pytest.fixture
def notify_socket(tmp_path):
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(0.5)
    yield sock, path
    sock.close()


def messages(sock, seconds: float) -> list[str]:
    out, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            out.append(sock.recv(4096).decode())
        except socket.timeout:
            pass
    return out


def test_ready_then_watchdog_pings_also_while_the_device_is_lost(station_dir, pulse,
                                                                notify_socket):
    sock, path = notify_socket
    port = free_port()
    write_config(station_dir, device="default", port=port)
    d = Daemon(station_dir, dict(pulse.env, NOTIFY_SOCKET=path), port)
    try:
        d.start()
        got = messages(sock, 5)
        assert "READY=1" in got and "WATCHDOG=1" in got
        pulse.stop()  # the reopen loop turns: still alive, keep pinging
        d.wait_for(lambda: d.get("/healthz")["status"] == "degraded", timeout=20)
        assert messages(sock, 5).count("WATCHDOG=1") >= 2
        os.kill(d.proc.pid, signal.SIGTERM)
        assert d.proc.wait(15) == 0
        assert "STOPPING=1" in messages(sock, 1)
    finally:
        d.terminate()
