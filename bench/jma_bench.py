"""JMA information: time from a message appearing to its first sound on the air, and
what polling costs the daemon.

A station with its own PulseAudio null sink (monitor recorded) and the real daemon; a
local HTTP server plays the JMA feed (nothing reaches the internet). For N auto items
(レベル４土砂災害危険警報 for 真岡市, each a new message of the series):
- inbox: time from the file's rename into ``jma.inbox`` to the first sound (goal ≤ 1 s);
- feed: time from the entry appearing in the served feed to the first sound
  (goal ≤ poll_seconds + 1 s).
Each airing is stopped once it sounded. First the daemon's CPU and RSS over an idle
window with jma enabled (feed of 100 entries for other areas, changed every 2 s), against
the same window with jma disabled.

    .venv/bin/python bench/jma_bench.py [--runs 5] [--poll 5] [--window 30]
"""

import argparse
import os
import random
import textwrap
import threading
import time

import numpy as np
from common import Bench, cpu_seconds, make_token, pct, status_kb

from tests.conftest import write_config
from tests.jmautil import FeedServer, landslide_auto, sample, variant

RATE = 48000


def first_loud(rec, after: float, timeout: float, threshold=0.01):
    deadline = time.time() + timeout
    while time.time() < deadline:
        x = np.abs(rec.samples())
        start = max(0, int((after - rec.time_of(0)) * RATE)) if len(x) else 0
        idx = np.flatnonzero(x[start:] > threshold)
        if idx.size:
            return rec.time_of(start + int(idx[0]))
        time.sleep(0.05)
    return None


def message(n: int) -> bytes:
    return variant(landslide_auto(), date_time=f"2026-01-01T{n // 60:02d}:{n % 60:02d}:00Z")


def stop_on_air(d, token):
    d.wait_for(lambda: d.get("/api/status", token=token)["on_air"], timeout=30)
    on_air = d.get("/api/status", token=token)["on_air"]
    d.request("DELETE", f"/api/bulletins/{on_air['id']}", token=token)
    d.wait_for(lambda: d.get("/api/status", token=token)["on_air"] is None, timeout=10)


def configure(b, feeds, poll: int, enabled: bool = True):
    write_config(b.folder, device="default", port=b.port, extra=textwrap.dedent(f"""\
        jma:
          enabled: {"true" if enabled else "false"}
          feeds: ["{feeds.url('/feed/extra.xml')}"]
          poll_seconds: {poll}
          inbox: var/jma-inbox
        """))


def latencies(b, feeds, token, runs: int, poll: int) -> tuple[list, list]:
    inbox = b.folder / "var" / "jma-inbox"
    inbox_times, feed_times, n, links = [], [], 0, []
    for _ in range(runs):
        n += 1
        rec = b.pulse.record()
        tmp = inbox / f".msg{n}.tmp"
        tmp.write_bytes(message(n))
        t0 = time.time()
        os.rename(tmp, inbox / f"msg{n}.xml")
        heard = first_loud(rec, t0, 20)
        rec.stop()
        inbox_times.append(heard - t0 if heard else float("nan"))
        stop_on_air(b.daemon, token)
    for _ in range(runs):
        n += 1
        time.sleep(random.uniform(0, poll))  # any moment within the poll cycle
        rec = b.pulse.record()
        links.append(feeds.put(f"/data/m{n}.xml", message(n)))
        t0 = time.time()
        feeds.set_feed("/feed/extra.xml", links)
        heard = first_loud(rec, t0, poll + 20)
        rec.stop()
        feed_times.append(heard - t0 if heard else float("nan"))
        stop_on_air(b.daemon, token)
    return inbox_times, feed_times


def idle_cost(b, feeds, window: float) -> tuple[float, float]:
    """CPU seconds per minute and RSS (MB) of the daemon's main process over ``window``."""
    other = sample("15_16_01_241031_VPWW56.xml")  # another area: processed, never aired
    links = [feeds.put(f"/data/seen{i}.xml", variant(other, date_time=f"2026-02-01T00:{i // 60:02d}:{i % 60:02d}Z"))
             for i in range(100)]
    stop = threading.Event()

    def churn():
        while not stop.wait(2):
            feeds.set_feed("/feed/extra.xml", links)
    feeds.set_feed("/feed/extra.xml", links)
    time.sleep(8)  # first poll fetches the 100 entries once; then steady state
    t = threading.Thread(target=churn, daemon=True)
    t.start()
    pid = b.daemon.proc.pid
    c0 = cpu_seconds(pid)
    time.sleep(window)
    c1 = cpu_seconds(pid)
    stop.set()
    return (c1 - c0) * 60 / window, status_kb(pid, "VmRSS") / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--poll", type=int, default=5)
    ap.add_argument("--window", type=float, default=30)
    args = ap.parse_args()
    with FeedServer() as feeds:
        feeds.set_feed("/feed/extra.xml", [])
        with Bench() as b:
            configure(b, feeds, args.poll, enabled=False)
            b.daemon.start()
            base_cpu, base_rss = idle_cost(b, feeds, args.window)
            b.daemon.terminate()
            configure(b, feeds, args.poll)
            feeds.set_feed("/feed/extra.xml", [])
            token = make_token(b.folder)
            b.daemon.start()
            cpu, rss = idle_cost(b, feeds, args.window)  # before anything aired
            feeds.set_feed("/feed/extra.xml", [])
            inbox_t, feed_t = latencies(b, feeds, token, args.runs, args.poll)
    print(f"inbox → first sound: median {pct(inbox_t, 50):.2f} s, max {max(inbox_t):.2f} s "
          f"(n={len(inbox_t)}; goal ≤ 1 s)")
    print(f"feed  → first sound: median {pct(feed_t, 50):.2f} s, max {max(feed_t):.2f} s "
          f"(n={len(feed_t)}, poll_seconds={args.poll}; goal ≤ {args.poll + 1} s)")
    print(f"daemon idle, jma off: {base_cpu:.2f} CPU s/min, RSS {base_rss:.0f} MB")
    print(f"daemon idle, jma on (polling every {args.poll} s, 100-entry feed changing "
          f"every 2 s): {cpu:.2f} CPU s/min, RSS {rss:.0f} MB "
          f"(added {cpu - base_cpu:+.2f} CPU s/min, {rss - base_rss:+.0f} MB)")


if __name__ == "__main__":
    main()
