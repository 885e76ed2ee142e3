"""What publishing costs (issue 19), and that notices stay on time while it runs.

Two runs of the real daemon on a PulseAudio null sink, the same notices each time (one
every ``--spacing`` seconds, so each one's publishing — MP3 encoding, furigana in the
speech workers, the site and the feed, a 2-second publish.command — overlaps the next
onset): once with ``publish.enabled: false``, once with it on. Prints per item: the CPU
time of the daemon and its children (ffmpeg, the command) with publishing minus without,
the publisher thread's own CPU (from the daemon's log), the bytes it adds to the folder;
and the onset error of every notice in both runs (goal |error| <= 50 ms p95).

    .venv/bin/python bench/publish_bench.py [--notices 10] [--spacing 5]
"""

import argparse
import datetime as dt
import os
import re
import textwrap
import time
from pathlib import Path

from common import Bench, pct

from announcer.core.clock import TOKYO

TEXTS = ["真岡市からのお知らせです。明日は燃えるごみの収集日です。朝八時までに出してください。",
         "東郷地区の皆さんへ。市役所の窓口は午後五時十五分までです。",
         "熱中症に注意しましょう。こまめに水分をとり、暑い日は外出を控えてください。"]


def tree_cpu(pid: int) -> float:
    """utime + stime of the daemon and of its children it has waited for (ffmpeg, the
    command), plus the live children (the speech workers), in seconds."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(f) for f in fields[11:15]) / tick  # own + waited-for children
            todo += [int(c) for c in
                     Path(f"/proc/{p}/task/{p}/children").read_text().split()]
        except OSError:
            continue
    return total


def seed_site(folder: Path, count: int) -> None:
    """``count`` items of the last six days in the site's table (text, no audio)."""
    from announcer.publish.store import PublicStore
    from announcer.record.store import Store

    store = Store(folder / "var" / "announcer.db", TOKYO)
    public = PublicStore(store)
    today = dt.datetime.now(TOKYO).replace(hour=6, minute=0, second=0, microsecond=0)
    line = [["明日", "あした"], ["は", ""], ["燃", "も"], ["えるごみの", ""], ["収集日", "しゅうしゅうび"],
            ["です。", ""]]
    for i in range(count):
        at = today - dt.timedelta(days=1 + i % 6, minutes=i)
        public.add({"slug": public.free_slug(at), "kind": "notice", "item_id": f"s{i}",
                    "started_at": at, "ended_at": at + dt.timedelta(seconds=20),
                    "status": "aired", "content": {"title": [["お知らせ", ""]],
                                                   "text": [[line * 6, line * 4]], "easy": []}})
    public.close()
    store.close()


def run(n: int, spacing: float, publish: bool, seed: int) -> dict:
    with Bench() as b:
        seed_site(b.folder, seed)
        b.folder.joinpath("station.yaml").write_text(
            b.folder.joinpath("station.yaml").read_text() + textwrap.dedent(f"""\
            publish:
              enabled: {"true" if publish else "false"}
              command: ["sh", "-c", "sleep 2"]
            """), "utf-8")
        start = dt.datetime.now(TOKYO).replace(microsecond=0) + dt.timedelta(seconds=40)
        times = [start + dt.timedelta(seconds=spacing * i) for i in range(n)]
        lines = ["notices:"]
        for i, t in enumerate(times):
            lines += [f"  - id: p{i}", f"    title: お知らせ{i}",
                      f"    text: {TEXTS[i % len(TEXTS)]}", f"    times: [\"{t:%H:%M:%S}\"]",
                      "    chime: false"]
        (b.folder / "schedules" / "bench.yaml").write_text("\n".join(lines) + "\n", "utf-8")
        b.daemon.start()
        while dt.datetime.now(TOKYO) < start - dt.timedelta(seconds=3):
            time.sleep(0.2)  # start-up pre-rendering is done by now
        rec = b.pulse.record()
        cpu0 = tree_cpu(b.daemon.proc.pid)
        while dt.datetime.now(TOKYO) < times[-1] + dt.timedelta(seconds=spacing + 8):
            time.sleep(0.2)
        cpu = tree_cpu(b.daemon.proc.pid) - cpu0
        rec.stop()
        onsets = rec.onsets(gap=0.8)
        folder = b.folder / "var" / "public"
        sizes = {"audio": sum(p.stat().st_size for p in folder.glob("audio/*.mp3")),
                 "pages": sum(p.stat().st_size for p in folder.glob("items/*.html")),
                 "index+feed": sum(p.stat().st_size for p in folder.glob("*.*"))} \
            if folder.exists() else {}
        thread_ms = [float(m) for m in re.findall(r"\((\d+) ms CPU in this thread",
                                                  b.daemon.log.read_text(errors="replace"))]
        published = len(list(folder.glob("items/*.html"))) if folder.exists() else 0
    errors = []
    for t in times:
        near = [o - t.timestamp() for o in onsets if abs(o - t.timestamp()) < 1.5]
        errors.append(min(near, key=abs) if near else float("nan"))
    return {"cpu": cpu, "errors": errors, "sizes": sizes, "thread_ms": thread_ms,
            "published": published}


def show_errors(label: str, errors: list[float]) -> None:
    good = [abs(e) * 1000 for e in errors if e == e]
    print(f"  {label}: |onset error| p50 {pct(good, 50):.1f} ms, p95 {pct(good, 95):.1f} ms, "
          f"max {max(good):.1f} ms, missing {len(errors) - len(good)} (goal p95 <= 50 ms)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--notices", type=int, default=8)
    parser.add_argument("--spacing", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2,
                        help="off/on pairs, alternated so that the machine's load hits both")
    parser.add_argument("--seed", type=int, default=280,
                        help="items already on the site (a week at 40 a day)")
    args = parser.parse_args()
    offs, ons = [], []
    for _ in range(args.rounds):
        offs.append(run(args.notices, args.spacing, publish=False, seed=args.seed))
        ons.append(run(args.notices, args.spacing, publish=True, seed=args.seed))
    n = max(1, sum(r["published"] - args.seed for r in ons))
    cpu_off, cpu_on = sum(r["cpu"] for r in offs), sum(r["cpu"] for r in ons)
    print(f"{args.rounds} × {args.notices} notices, {args.spacing:g} s apart, {args.seed} items "
          f"already on the site; {n} published; load average {os.getloadavg()[0]:.1f}")
    print(f"  CPU of the daemon tree: {cpu_off:.2f} s without publishing, {cpu_on:.2f} s with"
          f" → {(cpu_on - cpu_off) / n * 1000:.0f} ms per item (ffmpeg, furigana, site, feed,"
          " the command)")
    thread_ms = [m for r in ons for m in r["thread_ms"]]
    if thread_ms:
        print(f"  publisher thread per item: p50 {pct(thread_ms, 50):.0f} ms, "
              f"max {max(thread_ms):.0f} ms CPU (furigana requests, pages, feed)")
    s, pages = ons[-1]["sizes"], ons[-1]["published"]
    per = args.notices
    print(f"  bytes per item: audio {s['audio'] / per / 1024:.1f} KiB, page "
          f"{s['pages'] / max(1, pages) / 1024:.1f} KiB; index + feed + css "
          f"{s['index+feed'] / 1024:.1f} KiB for {pages} items")
    show_errors("without publishing", [e for r in offs for e in r["errors"]])
    show_errors("with publishing   ", [e for r in ons for e in r["errors"]])


if __name__ == "__main__":
    main()
