"""Flood the real daemon's login form (no account, loopback only, bounded load) and
check that the emergency path does not notice: the page answers within 1 s, a bulletin
reaches the output as fast as before the flood, and neither the database nor the
daemon's memory grows (the 10,000-request figures: ``bench/security_bench.py``)."""

import pytest

from tests.conftest import write_config
from tests.daemonutil import Daemon, free_port, make_token
from tests.flood import database_bytes, flood, flood_in_background, rss_kb, time_to_air
from tests.httputil import Browser

pytestmark = pytest.mark.filterwarnings(
    r"ignore:Exception ignored in.*name=\d+ mode=:pytest.PytestUnraisableExceptionWarning")


def test_login_flood_leaves_the_emergency_path_alone(station_dir, pulse):
    port = free_port()
    write_config(station_dir, device="default", port=port)
    from tests.daemonutil import cli
    assert cli(station_dir, "user", "add", "sokuho", "--password-stdin",
               stdin="right-password\n").returncode == 0
    token = make_token(station_dir)
    daemon = Daemon(station_dir, pulse.env, port).start()
    try:
        rec = pulse.record()
        usual = time_to_air(daemon, token, rec)
        staff = Browser(port, "127.0.0.9")
        assert staff.login("sokuho", "right-password") == 302
        flood(port, 200, staff=staff)  # warm-up: every code path has run once
        db_before, rss_before = database_bytes(station_dir), rss_kb(daemon.proc.pid)

        thread, result = flood_in_background(port, 1500, staff=staff)
        assert result.sent < 1500  # the bulletin goes in while the flood runs
        during = time_to_air(daemon, token, rec)
        thread.join()
        rec.stop()

        assert result.sent == 1500
        assert set(result.statuses) <= {413, 401, 429, 503}, result.statuses
        assert result.statuses.get(413, 0) >= 1400
        assert max(result.page_seconds) < 1.0, sorted(result.page_seconds)[-3:]
        assert max(result.health_seconds) < 1.0, sorted(result.health_seconds)[-3:]
        assert during < max(1.0, 3 * usual), (usual, during)
        assert database_bytes(station_dir) - db_before < 1024 * 1024
        assert rss_kb(daemon.proc.pid) - rss_before < 20 * 1024
        other_pc = Browser(port, "127.0.0.10")  # staff on another PC still get in
        assert other_pc.login("sokuho", "right-password") == 302
    finally:
        assert daemon.terminate() == 0
