"""JMA information: time from a message appearing to its first sound on the air, what
polling costs the daemon, and (without audio) what parsing and the rules cost.

A station with its own PulseAudio null sink (monitor recorded) and the real daemon; a
local HTTP server plays the JMA feed (nothing reaches the internet). For N auto items
(記録的短時間大雨情報 for 栃木県南部 dated now, each a new observation, so each is news:
since issue 16 one event airs once):
- inbox: time from the file's rename into ``jma.inbox`` to the first sound (goal ≤ 1 s);
- feed: time from the entry appearing in the served feed to the first sound
  (goal ≤ poll_seconds + 1 s).
Each airing is stopped once it sounded. First the daemon's CPU and RSS over an idle
window with jma enabled (feed of 100 entries for other areas, changed every 2 s), against
the same window with jma disabled. ``--pure`` only measures, in this process: parsing
every official sample and a crafted 1.4 MB message (its Head's Name × Kind lookup once
took a minute), and one ``rules.step`` per message over a sequence of edited samples.

    .venv/bin/python bench/jma_bench.py [--runs 5] [--poll 5] [--window 30] [--pure]
"""

import argparse
import datetime as dt
import os
import random
import textwrap
import threading
import time

import numpy as np
from common import Bench, cpu_seconds, make_token, pct, status_kb

from tests import jmautil as J
from tests.conftest import write_config
from tests.jmautil import FeedServer, sample, variant

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
    """A record-rain bulletin dated now, its observation time unique per ``n``."""
    hh, mm = (n // 60) % 24, n % 60
    full = str.maketrans("0123456789", "０１２３４５６７８９")
    when = J.now() + dt.timedelta(seconds=n)  # its own DateTime: its own message key
    return J.edit(J.rain_vpoa50(when), ("１９時４０分", f"{hh:02d}時{mm:02d}分".translate(full)))


def pure() -> None:
    import statistics

    from announcer.jma import rules
    from announcer.jma import state as st
    from announcer.jma.parse import parse
    from announcer.jma.policy import Settings
    from tests.test_jma_intake import quadratic

    times = []
    for path in sorted(J.SAMPLES.glob("*.xml")):
        data = path.read_bytes()
        t = time.perf_counter()
        parse(data)
        times.append(time.perf_counter() - t)
    print(f"parse, 113 official samples: median {statistics.median(times) * 1000:.1f} ms, "
          f"max {max(times) * 1000:.1f} ms")
    crafted = quadratic()
    t = time.perf_counter()
    parse(crafted)
    print(f"parse, crafted {len(crafted) / 1e6:.1f} MB Head (19,000 Names × 19,000 Kinds): "
          f"{time.perf_counter() - t:.2f} s (budget 3 s)")
    t0 = J.now()
    seq = [J.storm_approve(t0), J.special_h27(t0), J.special_r06(t0), J.quake_flash(t0),
           J.quake_detail(1, t0), J.quake_detail(2, t0), J.mashiko(t0), J.tornado_north(t0),
           J.rain_vpoa50(t0), J.rain_vpbs50(t0), J.storm_continued(t0), J.storm_lifted(t0)]
    msgs = [parse(d) for d in seq]
    state, steps = st.empty(), []
    s = Settings(areas=("0920900", "0934200"))
    for m in msgs * 20:
        t = time.perf_counter()
        state = rules.step(state, m, t0 + dt.timedelta(seconds=1), s).state
        steps.append(time.perf_counter() - t)
    print(f"rules.step over {len(steps)} messages: "
          f"median {statistics.median(steps) * 1000:.2f} ms, max {max(steps) * 1000:.2f} ms")


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
    ap.add_argument("--pure", action="store_true")
    args = ap.parse_args()
    if args.pure:
        return pure()
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
