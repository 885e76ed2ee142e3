"""Soak (issue 20): the real daemon (PulseAudio null sink) for ``--minutes`` with a
notice every 30 s, a bulletin every minute and the staff status page polled every
second by a logged-in browser; every 10 s its RSS, threads, open fds, the database's WAL
and the entries waiting in the as-run journal are sampled into a CSV. Prints the RSS
slope of the last hour (the goal: under 1 MiB/h), of the second half and of the run.

    .venv/bin/python bench/soak_bench.py --minutes 120 [--csv soak.csv]

RSS is the daemon's own (speech workers are separate processes and are sampled as
``tree_rss_kb``). The slope is a least-squares line through the samples; the "floor" slope
goes through each 5 minutes' lowest sample, which leaves out the ~1 MB swing of a notice's
render mapped while it airs (every 30 s here). ``--report CSV`` prints the report of an
earlier run's samples.
"""

import argparse
import csv
import datetime as dt
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from common import Bench, proc_tree, status_kb

from announcer.core.clock import TOKYO
from announcer.record.journal import Journal
from tests.daemonutil import jst_in, make_token
from tests.httputil import Browser

TEXT = "本日の真岡市の天気は晴れ。午後から風が強くなる見込みです。"
FIELDS = ("t_s", "rss_kb", "tree_rss_kb", "threads", "fds", "wal_bytes", "db_bytes",
          "journal_entries", "status_polls", "poll_errors", "bulletins")


def notices(folder: Path, minutes: float) -> None:
    start = jst_in(40)
    times = [(start + dt.timedelta(seconds=s)).strftime("%H:%M:%S")
             for s in range(0, int(minutes * 60) + 120, 30)]
    if len(set(times)) < len(times):
        raise SystemExit("a soak must stay under 24 hours")
    (folder / "schedules" / "soak.yaml").write_text(
        f"notices:\n  - id: soak\n    text: {TEXT}\n    times: [{', '.join(repr(t) for t in times)}]\n",
        encoding="utf-8")


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope (units per second)."""
    if len(points) < 3:
        return float("nan")
    n = len(points)
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    sxx = sum((t - mx) ** 2 for t, _ in points)
    return sum((t - mx) * (v - my) for t, v in points) / sxx if sxx else float("nan")


class Load(threading.Thread):
    def __init__(self, b: Bench, token: str, browser: Browser, stop: threading.Event):
        super().__init__(daemon=True)
        self.b, self.token, self.browser, self.stop = b, token, browser, stop
        self.polls = self.errors = self.bulletins = 0

    def run(self) -> None:
        next_bulletin = time.monotonic() + 45
        while not self.stop.wait(1.0):
            try:
                status = self.browser.get("/")[0]
                self.polls += 1
                self.errors += status != 200
            except OSError:
                self.errors += 1
            if time.monotonic() >= next_bulletin:
                next_bulletin += 60
                status, _ = self.b.daemon.request(
                    "POST", "/api/bulletins", {"text": "これは試験放送です。", "repeat": 1,
                                               "interrupt": False}, self.token)
                self.bulletins += status == 202


def sample(b: Bench, t0: float, load: Load) -> dict:
    pid = b.daemon.proc.pid
    data = b.folder / "var"
    size = lambda p: p.stat().st_size if p.exists() else 0  # noqa: E731
    waiting = Journal.peek(data / "asrun.journal")  # entries not in the database yet
    return {"t_s": round(time.monotonic() - t0, 1), "rss_kb": status_kb(pid, "VmRSS"),
            "tree_rss_kb": sum(status_kb(p, "VmRSS") for p in proc_tree(pid)),
            "threads": status_kb(pid, "Threads"), "fds": len(os.listdir(f"/proc/{pid}/fd")),
            "wal_bytes": size(data / "announcer.db-wal"), "db_bytes": size(data / "announcer.db"),
            "journal_entries": len(waiting), "status_polls": load.polls, "poll_errors": load.errors,
            "bulletins": load.bulletins}


def floor(points: list[tuple[float, float]], window: float = 300.0) -> list[tuple]:
    """The lowest sample of each ``window`` seconds (whole windows only)."""
    if not points:
        return []
    start, lows = points[0][0], {}
    for t, v in points:
        n = int((t - start) // window)
        if n not in lows or v < lows[n][1]:
            lows[n] = (t, v)
    whole = int((points[-1][0] - start) // window)  # the last, partial window is left out
    return [lows[n] for n in sorted(lows) if n < whole]


def report(rows: list[dict]) -> None:
    end = rows[-1]["t_s"]
    print(f"\n{len(rows)} samples over {end / 60:.1f} min")
    for label, since in (("last hour", end - 3600), ("second half", end / 2), ("whole run", 0)):
        if label == "last hour" and end < 3600:
            print("last hour: (run shorter than an hour: see the second half)")
            continue
        pts = [(r["t_s"], r["rss_kb"]) for r in rows if r["t_s"] >= since]
        s, f = slope(pts), slope(floor(pts))
        print(f"RSS slope, {label}: {s * 60:+.1f} KiB/min = {s * 3600 / 1024:+.2f} MiB/h "
              f"({pts[0][1] / 1024:.1f} → {pts[-1][1] / 1024:.1f} MiB); "
              f"floor {f * 3600 / 1024:+.2f} MiB/h")
    for key in ("threads", "fds", "wal_bytes", "journal_entries", "tree_rss_kb"):
        values = [r[key] for r in rows]
        print(f"{key}: min {min(values)}, max {max(values)}, last {values[-1]}")
    last = rows[-1]
    print(f"status page polls: {last['status_polls']} ({last['poll_errors']} errors), "
          f"bulletins accepted: {last['bulletins']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=120)
    parser.add_argument("--csv", type=Path, default=Path("soak.csv"))
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--report", type=Path, metavar="CSV",
                        help="print the report of an earlier run's samples and stop")
    args = parser.parse_args()
    if args.report:
        with open(args.report, newline="") as f:
            report([{k: float(v) if k == "t_s" else int(v) for k, v in r.items()}
                    for r in csv.DictReader(f)])
        return
    with Bench() as b:
        subprocess.run([sys.executable, "-m", "announcer.cli", "--config",
                        str(b.folder / "station.yaml"), "user", "add", "soak",
                        "--password-stdin"], input="soak-password\n", text=True, check=True,
                       capture_output=True)
        token = make_token(b.folder)
        b.daemon.start(timeout=120)
        browser = Browser(b.port)
        if browser.login("soak", "soak-password") != 302:
            raise SystemExit("cannot log in")
        notices(b.folder, args.minutes)
        stop = threading.Event()
        load = Load(b, token, browser, stop)
        rows: list[dict] = []
        t0, started = time.monotonic(), dt.datetime.now(TOKYO)
        load.start()
        with open(args.csv, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=FIELDS)
            writer.writeheader()
            while time.monotonic() - t0 < args.minutes * 60:
                rows.append(sample(b, t0, load))
                writer.writerow(rows[-1])
                f.flush()
                time.sleep(args.every)
        stop.set()
        load.join(10)
        days = sorted({dt.datetime.now(TOKYO).date(), started.date()})  # across midnight
        aired = [r for day in days for r in b.daemon.get(f"/api/airlog?date={day}", token=token)]
        counts: dict[str, int] = {}
        for r in aired:
            counts[f"{r['kind']} {r['status']}"] = counts.get(f"{r['kind']} {r['status']}", 0) + 1
    report(rows)
    print(f"as-run rows of the run: {counts}")
    print(f"samples written to {args.csv}")


if __name__ == "__main__":
    main()
