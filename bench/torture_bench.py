"""Random crash torture (issue 20): N ``kill -9`` of the real daemon at random moments,
while two notices fall due every 30 s and bulletins arrive every 10-30 s (retried with their
Idempotency-Key while the daemon is down), some kills with the database held by another
process (``BEGIN EXCLUSIVE``); then a tally of what was lost, doubled or aired unlogged.

    .venv/bin/python bench/torture_bench.py [--kills 20] [--seed 1] [--no-locks] [--keep DIR]

The output is the file sink (every airing is a WAV under var/aired/, what "went out").
Tally (goal 0 / 0 / 0):
- lost: an accepted bulletin that never aired in full; a notice airing that fell due and
  has no as-run row at all (neither aired nor a reason);
- doubled: one bulletin, or one notice at one time, aired in full twice (two ``aired``
  rows, or two full-length WAVs);
- unlogged: a WAV with no as-run row that started with it.
Also: the integrity check, missed reasons, and each restart's time to a healthy daemon.
"""

import argparse
import collections
import datetime as dt
import random
import re
import shutil
import sqlite3
import threading
import time
import urllib.error
import uuid
from pathlib import Path

from common import Bench, pct

from announcer.core.clock import TOKYO
from tests.conftest import write_config
from tests.daemonutil import jst_in, make_token
from tests.faultutil import DbLock

NOTICES = {"n1": ("毎時のお知らせです。本日も安全運転でお願いします。", 300),
           "n2": ("短い猶予のお知らせです。", 30)}
BULLETIN = "緊急放送の訓練用の文です。落ち着いて行動してください。"
_WAV = re.compile(r"^(\d{8}-\d{6})-(.+)\.wav$")


def write_schedule(folder: Path, start: dt.datetime, seconds: int) -> None:
    lines = ["notices:"]
    for i, (nid, (text, grace)) in enumerate(NOTICES.items()):
        times = [(start + dt.timedelta(seconds=s + 15 * i)).strftime("%H:%M:%S")
                 for s in range(0, seconds, 30)]
        lines += [f"  - id: {nid}", f"    text: {text}", f"    grace: {grace}",
                  "    chime: false",
                  f"    times: [{', '.join(repr(t) for t in times)}]"]
    (folder / "schedules" / "torture.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def prerender(b: Bench) -> None:
    """Render both texts once (20 minutes ahead), so no kill lands on a first render."""
    later = jst_in(1200).strftime("%H:%M:%S")
    (b.folder / "schedules" / "torture.yaml").write_text(
        "notices:\n" + "".join(f"  - {{id: {nid}, text: {text}, chime: false, "
                               f"times: ['{later}']}}\n"
                               for nid, (text, _) in NOTICES.items()), encoding="utf-8")
    cache = b.folder / "var" / "cache"
    b.daemon.wait_for(lambda: len(list(cache.glob("*.s16"))) >= 2, timeout=180, interval=0.5)


class Poster(threading.Thread):
    """Bulletins every 10-30 s; each retried with its key until accepted (202)."""

    def __init__(self, b: Bench, token: str, rng: random.Random):
        super().__init__(daemon=True)
        self.b, self.token, self.rng = b, token, rng
        self.accepted: dict[str, str] = {}  # key -> id
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.rng.uniform(10, 30)):
            key = uuid.uuid4().hex
            body = {"text": BULLETIN, "repeat": 1, "chime": False,
                    "interrupt": self.rng.random() < 0.5}
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not self.stop.is_set():
                try:
                    status, got = self.b.daemon.request("POST", "/api/bulletins", body,
                                                        self.token)
                except (OSError, urllib.error.URLError):
                    status = 0
                if status == 202:
                    self.accepted[key] = got["id"]
                    break
                time.sleep(1)


def restart(b: Bench, token: str) -> float:
    t0 = time.monotonic()
    b.daemon.start(wait_audio=False, timeout=120)
    b.daemon.wait_for(lambda: b.daemon.get("/healthz", token=token)["audio"]["ok"],
                      timeout=120)
    return time.monotonic() - t0


def torture(b: Bench, token: str, kills: int, locks: bool, rng: random.Random) -> dict:
    poster = Poster(b, token, rng)
    poster.start()
    restarts, locked = [], 0
    db = b.folder / "var" / "announcer.db"
    for i in range(kills):
        time.sleep(rng.uniform(3, 25))
        lock = None
        if locks and rng.random() < 0.3:
            lock = DbLock(db)
            locked += 1
            time.sleep(rng.uniform(0, 4))
        b.daemon.kill9()
        restarts.append(restart(b, token))
        if lock is not None:
            time.sleep(rng.uniform(0, 5))
            lock.release()
        print(f"kill {i + 1}/{kills}: back in {restarts[-1]:.1f} s"
              f"{' (database locked)' if lock else ''}", flush=True)
    poster.stop.set()
    poster.join(130)
    return {"restarts": restarts, "locked": locked, "accepted": dict(poster.accepted)}


def settle(b: Bench, token: str, accepted: dict, until: dt.datetime) -> None:
    """Wait until every accepted bulletin ended and every notice due by ``until`` has a row
    or can no longer air (its grace passed)."""
    def done():
        states = [b.daemon.get(f"/api/bulletins/{bid}", token=token)["status"]
                  for bid in accepted.values()]
        status = b.daemon.get("/api/status", token=token)
        return all(s not in ("queued", "on_air") for s in states) and \
            status["on_air"] is None and not status["queue"] and \
            dt.datetime.now(until.tzinfo) > until + dt.timedelta(seconds=40)
    b.daemon.wait_for(done, timeout=900, interval=2)


def wav_index(folder: Path, tz) -> list[tuple[str, dt.datetime, int]]:
    out = []
    for path in sorted(folder.glob("*.wav")):
        m = _WAV.match(path.name)
        if m:
            at = dt.datetime.strptime(m.group(1), "%Y%m%d-%H%M%S").replace(tzinfo=tz)
            out.append((m.group(2), at, max(0, path.stat().st_size - 44) // 2))
    return out


def tally(b: Bench, run: dict, first: dt.datetime, until: dt.datetime, tz) -> dict:
    db = sqlite3.connect(b.folder / "var" / "announcer.db")
    db.row_factory = sqlite3.Row
    integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
    rows = [dict(r) for r in db.execute("SELECT * FROM airlog ORDER BY rowid")]
    states = {r["id"]: r["state"] for r in db.execute("SELECT id, state FROM bulletins")}
    db.close()
    wavs = wav_index(b.folder / "var" / "aired", tz)
    tag = lambda r: re.sub(r"[^A-Za-z0-9_.-]", "_", f"{r['kind']}-{r['id']}")  # noqa: E731
    # every WAV belongs to the row that started with it (same item, same second ±2)
    owner, unlogged = {}, []
    for i, (wtag, at, _n) in enumerate(wavs):
        match = [r for r in rows if r["started_at"] and tag(r) == wtag and
                 abs((dt.datetime.fromisoformat(r["started_at"]) - at).total_seconds()) <= 2.5]
        if match:
            owner[i] = match[0]["ref"]
        else:
            unlogged.append(wavs[i][:2])
    # the full length of each program: notices by id, bulletins (one text) together
    kind_of = lambda wtag: "bulletin" if wtag.startswith("bulletin") else wtag  # noqa: E731
    longest = collections.defaultdict(int)
    for wtag, _at, n in wavs:
        longest[kind_of(wtag)] = max(longest[kind_of(wtag)], n)
    full = collections.Counter()  # (kind, id, scheduled) -> WAVs of full length
    by_ref = {r["ref"]: r for r in rows}
    for i, (wtag, _at, n) in enumerate(wavs):
        if i in owner and n >= 0.98 * longest[kind_of(wtag)]:
            r = by_ref[owner[i]]
            full[(r["kind"], r["id"], r["scheduled_at"])] += 1
    aired = collections.Counter((r["kind"], r["id"], r["scheduled_at"]) for r in rows
                                if r["status"] in ("aired", "partial"))
    doubled = sorted({k for k, c in aired.items() if c > 1} | {k for k, c in full.items() if c > 1})
    lost = [("bulletin", bid) for bid in run["accepted"].values()
            if states.get(bid) not in ("aired", "partial")]
    latest = {}  # (id, scheduled_at) -> the notice airing's latest row
    for r in rows:
        if r["kind"] == "notice":
            latest[(r["id"], r["scheduled_at"])] = r
    due = _due_times(b.folder / "schedules" / "torture.yaml", first, until, tz)
    outcome, missed = collections.Counter(), collections.Counter()
    for nid, at in due:
        row = latest.get((nid, at.isoformat(timespec="milliseconds")))
        if row is None:
            lost.append(("notice", nid, at.isoformat()))
            continue
        outcome[row["status"]] += 1
        if row["status"] != "aired":
            missed[f"{row['status']}: {row['detail']}"] += 1
    return {"integrity": integrity, "rows": len(rows), "wavs": len(wavs), "unlogged": unlogged,
            "doubled": doubled, "lost": lost, "due": len(due), "outcome": outcome,
            "missed": missed, "aired_bulletins": sum(1 for k in aired if k[0] == "bulletin")}


def _due_times(path: Path, first: dt.datetime, until: dt.datetime, tz):
    out = []
    nid = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip().startswith("- id:"):
            nid = line.split(":", 1)[1].strip()
        elif line.strip().startswith("times:"):
            for t in re.findall(r"'(\d\d:\d\d:\d\d)'", line):
                at = dt.datetime.combine(first.date(), dt.time.fromisoformat(t), tz)
                if at < first - dt.timedelta(hours=12):
                    at += dt.timedelta(days=1)
                if first <= at <= until:
                    out.append((nid, at))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-locks", action="store_true",
                        help="plain kill -9 only (no database held by another process)")
    parser.add_argument("--keep", type=Path, help="copy the daemon log and database here")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with Bench() as b:
        write_config(b.folder, device="file", port=b.port)
        token = make_token(b.folder)
        b.daemon.start(timeout=120)
        tz = TOKYO
        prerender(b)
        first = jst_in(20)
        write_schedule(b.folder, first, args.kills * 40 + 600)
        t0 = time.monotonic()
        run = torture(b, token, args.kills, not args.no_locks, rng)
        until = dt.datetime.now(tz)
        settle(b, token, run["accepted"], until)
        b.daemon.terminate(timeout=30)
        result = tally(b, run, first, until, tz)
        took = time.monotonic() - t0
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            for part in ("daemon.log", "var/announcer.db", "schedules/torture.yaml"):
                shutil.copy(b.folder / part, args.keep / Path(part).name)
    restarts = run["restarts"]
    print(f"\n{args.kills} kill -9 in {took / 60:.1f} min ({run['locked']} with the database "
          f"held by another process), seed {args.seed}")
    print(f"restart to healthy: median {pct(restarts, 50):.1f} s, max {max(restarts):.1f} s")
    print(f"bulletins accepted: {len(run['accepted'])}, aired: {result['aired_bulletins']}")
    print(f"notice airings due during the kills: {result['due']}, "
          f"by their last row: {dict(result['outcome'])}")
    for why, count in result["missed"].most_common():
        print(f"  {count} × {why}")
    print(f"as-run rows: {result['rows']}, WAVs: {result['wavs']}, "
          f"integrity: {result['integrity']}")
    for name in ("lost", "doubled", "unlogged"):
        for item in result[name]:
            print(f"  {name}: {item}")
    print(f"TALLY lost={len(result['lost'])} doubled={len(result['doubled'])} "
          f"unlogged={len(result['unlogged'])}")


if __name__ == "__main__":
    main()
