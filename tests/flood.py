"""An unauthenticated login flood against a running daemon (loopback only), with what
the emergency path looks like meanwhile. Used by ``tests/test_security_flood.py``
(bounded) and ``bench/security_bench.py`` (the 10,000-request figures).

Each flooder is "another PC" (its own 127.0.0.x address): it fetches the login form
once (for the CSRF cookie, as a script would) and then posts bad logins as fast as the
daemon answers. Most names are ``name_bytes`` long; every ``short_every``-th is a
64-character name with a wrong password, which reaches the password check.
"""

import threading
import time
from dataclasses import dataclass, field

import numpy as np

from tests.httputil import Browser

RATE = 48000


@dataclass
class FloodResult:
    sent: int = 0
    statuses: dict = field(default_factory=dict)
    seconds: float = 0.0
    page_seconds: list = field(default_factory=list)   # GET /emergency while flooding
    health_seconds: list = field(default_factory=list)  # GET /healthz while flooding

    def count(self, status: int) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.sent += 1


def _flooder(port: int, addr: str, share: int, name_bytes: int, short_every: int,
             result: FloodResult, lock: threading.Lock) -> None:
    browser = Browser(port, addr)
    browser.get("/login")
    filler = "x" * name_bytes
    for n in range(share):
        short = short_every and n % short_every == 0
        name = f"{addr}-{n}".ljust(64, "z")[:64] if short else f"{filler}{n}"
        status = browser.request("POST", "/login", form={
            "csrf_token": browser.csrf, "name": name, "password": "wrong-password"})[0]
        with lock:
            result.count(status)


def flood(port: int, total: int, *, name_bytes: int = 250_000, flooders: int = 4,
          short_every: int = 25, staff: Browser | None = None,
          result: FloodResult | None = None) -> FloodResult:
    """Send ``total`` bad logins from ``flooders`` addresses; while they run, ``staff``
    (a logged-in browser) loads the emergency page and /healthz every 0.25 s."""
    result, lock = result or FloodResult(), threading.Lock()
    threads = [threading.Thread(target=_flooder, args=(
        port, f"127.0.0.{100 + i}", total // flooders, name_bytes, short_every, result, lock))
        for i in range(flooders)]
    started = time.monotonic()
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        if staff is not None:
            status, _, body, taken = staff.get("/emergency")
            assert status == 200 and "緊急放送" in body.decode("utf-8")
            result.page_seconds.append(taken)
            result.health_seconds.append(staff.request("GET", "/healthz")[3])
        time.sleep(0.25)
    for t in threads:
        t.join()
    result.seconds = time.monotonic() - started
    return result


def flood_in_background(port: int, total: int, **kw) -> tuple[threading.Thread, FloodResult]:
    """``flood`` in a thread; returns once the first 100 requests were answered."""
    result = FloodResult()
    thread = threading.Thread(target=flood, args=(port, total), kwargs=dict(kw, result=result))
    thread.start()
    while result.sent < min(100, total) and thread.is_alive():
        time.sleep(0.05)
    return thread, result


def first_sound(rec, after: float, threshold: float = 0.01) -> float | None:
    """Wall time of the first loud sample recorded after ``after``."""
    x = np.abs(rec.samples())
    start = max(0, int((after - rec.time_of(0)) * RATE))
    loud = np.flatnonzero(x[start:] > threshold)
    return rec.time_of(start + int(loud[0])) if loud.size else None


def time_to_air(daemon, token: str, rec, text: str = "訓練です。避難の準備をしてください。"
                ) -> float:
    """Seconds from a bulletin's 202 to its first sound at the output."""
    status, body = daemon.request("POST", "/api/bulletins",
                                  {"text": text, "repeat": 1, "test": True}, token=token)
    accepted = time.time()
    assert status == 202, body
    daemon.wait_for(lambda: daemon.get(f"/api/bulletins/{body['id']}", token=token)["status"]
                    in ("aired", "failed", "expired"), timeout=60)
    onset = first_sound(rec, accepted)
    assert onset is not None, "the bulletin never reached the output"
    return onset - accepted


def database_bytes(folder) -> int:
    data = folder / "var"
    return sum(p.stat().st_size for p in data.glob("announcer.db*"))


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0
