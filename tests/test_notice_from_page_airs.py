"""A notice created in the staff page of the running daemon airs at its time: the page
writes schedules/web/<id>.yaml, the daemon picks it up, and the PulseAudio null sink's
monitor records the sound."""

import http.cookiejar
import re
import urllib.parse
import urllib.request

import pytest

from tests.daemonutil import cli, daemon, jst_in, make_token

pytestmark = [pytest.mark.audio, pytest.mark.slow]

NAME, PASSWORD = "tanaka", "password123"


class Staff:
    """A staff member's browser, minus the browser: cookies, CSRF tokens, form posts."""

    def __init__(self, port: int):
        self.base = f"http://127.0.0.1:{port}"
        jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=10) as resp:
            return resp.read().decode("utf-8")

    def post_form(self, path: str, fields: list[tuple[str, str]]) -> tuple[int, str]:
        """Post like the page's form (with the CSRF token from a GET of ``path``);
        returns (status, the path redirected to)."""
        token = re.search(r'name="csrf_token" value="([^"]+)"', self.get(path))[1]
        body = urllib.parse.urlencode([("csrf_token", token), *fields]).encode()
        with self.opener.open(self.base + path, data=body, timeout=30) as resp:
            return resp.status, resp.url.removeprefix(self.base)


def test_a_notice_created_in_the_page_airs(daemon, station_dir, pulse):
    added = cli(station_dir, "user", "add", NAME, "--password-stdin", stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    token = make_token(station_dir)
    daemon.start()
    staff = Staff(daemon.port)
    assert staff.post_form("/login", [("name", NAME), ("password", PASSWORD)]) == (200, "/")

    when = jst_in(8)
    rec = pulse.record()
    days = [("days", d) for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")]
    status, landed = staff.post_form("/notices/new", [
        ("id", "from-page"), ("title", "画面から登録"), ("text", "真岡市役所からのお知らせです。"),
        ("times", f"{when:%H:%M:%S}"), ("times", ""), *days, ("holidays", "any"),
        ("chime", "on"), ("repeat", "1"), ("enabled", "on")])
    assert (status, landed) == (200, "/notices?done=create&id=from-page")
    assert (station_dir / "schedules" / "web" / "from-page.yaml").is_file()

    def aired():
        return [r for r in daemon.get("/api/airlog", token=token) if r["status"] == "aired"]

    row = daemon.wait_for(aired, timeout=30)[0]
    rec.stop()
    assert (row["kind"], row["id"]) == ("notice", "from-page")
    assert row["scheduled_at"] == when.isoformat(timespec="milliseconds")
    assert rec.sound_seconds() > 2
    # Never early; how soon after its second depends on how fast this machine renders a
    # notice cued seconds ahead (timing precision: test_daemon_audio, bench/).
    assert rec.onsets()[0] >= when.timestamp() - 0.25
