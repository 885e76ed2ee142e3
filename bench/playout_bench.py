"""Punctuality of notices on the air, and the idle cost of the daemon.

Prints: the onset of each notice's first sound on the null-sink monitor minus its
scheduled time (p50/p95/max over N notices; goal |error| <= 50 ms p95), then idle CPU
and RSS of the daemon with 1,000 notices loaded.

    .venv/bin/python bench/playout_bench.py [--notices 12]
"""

import argparse
import datetime as dt
import time

from common import Bench, cpu_seconds, pct, proc_tree, status_kb

from announcer.core.clock import TOKYO

TEXTS = ["明日は燃えるごみの収集日です。", "市役所の窓口は午後五時十五分までです。",
         "熱中症に注意しましょう。", "真岡市からのお知らせです。"]


def punctuality(n: int, spacing: float = 4.0) -> list[float]:
    with Bench() as b:
        start = dt.datetime.now(TOKYO).replace(microsecond=0) + dt.timedelta(seconds=15)
        times = [start + dt.timedelta(seconds=spacing * i) for i in range(n)]
        lines = ["notices:"]
        for i, t in enumerate(times):
            lines += [f"  - id: p{i}", f"    text: {TEXTS[i % len(TEXTS)]}",
                      f"    times: [\"{t:%H:%M:%S}\"]", "    chime: false"]
        (b.folder / "schedules" / "bench.yaml").write_text("\n".join(lines) + "\n", "utf-8")
        b.daemon.start()
        rec = b.pulse.record()
        while dt.datetime.now(TOKYO) < times[-1] + dt.timedelta(seconds=spacing):
            time.sleep(0.2)
        rec.stop()
        onsets = rec.onsets(gap=0.8)
    errors = []
    for t in times:
        near = [o - t.timestamp() for o in onsets if abs(o - t.timestamp()) < 1.5]
        errors.append(min(near, key=abs) if near else float("nan"))
    return errors


def idle_cost(count: int = 1000, seconds: float = 30.0) -> dict:
    with Bench() as b:
        lines = ["notices:"]
        for i in range(count):
            h, m = divmod((i * 7) % 1440, 60)
            lines += [f"  - id: n{i}", f"    text: お知らせ{i}番です。", f"    times: [\"{h:02d}:{m:02d}\"]",
                      "    days: [sat]" if i % 2 else "    days: [mon, wed]"]
        (b.folder / "schedules" / "many.yaml").write_text("\n".join(lines) + "\n", "utf-8")
        b.daemon.start()
        time.sleep(20)  # let start-up pre-rendering finish
        pids = proc_tree(b.daemon.proc.pid)
        before = {p: cpu_seconds(p) for p in pids}
        t0 = time.monotonic()
        time.sleep(seconds)
        elapsed = time.monotonic() - t0
        cpu = {p: (cpu_seconds(p) - before[p]) / elapsed * 100 for p in pids}
        rss = {p: status_kb(p, "VmRSS") / 1024 for p in pids}
        return {"cpu_percent": cpu, "rss_mb": rss, "main": b.daemon.proc.pid,
                "notices": count}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--notices", type=int, default=12)
    args = parser.parse_args()
    errors = punctuality(args.notices)
    ms = [e * 1000 for e in errors]
    print(f"punctuality over {len(ms)} notices (onset - scheduled, ms): "
          + ", ".join(f"{m:+.1f}" for m in ms))
    good = [abs(m) for m in ms if m == m]
    print(f"  |error| p50 {pct(good, 50):.1f} ms, p95 {pct(good, 95):.1f} ms, "
          f"max {max(good):.1f} ms, missing {len(ms) - len(good)}  (goal: p95 <= 50 ms)")
    idle = idle_cost()
    main_pid = idle["main"]
    total_cpu = sum(idle["cpu_percent"].values())
    print(f"idle with {idle['notices']} notices loaded: CPU {total_cpu:.2f} % of one core "
          f"(daemon {idle['cpu_percent'][main_pid]:.2f} %), RSS daemon "
          f"{idle['rss_mb'][main_pid]:.0f} MB, workers "
          + ", ".join(f"{v:.0f} MB" for p, v in idle["rss_mb"].items() if p != main_pid))


if __name__ == "__main__":
    main()
