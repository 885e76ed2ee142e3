"""How fast the record grows: a year of as-run log and audit rows at FMもおか's volume.

The as-run log and the audit log keep everything (they are the record), so the README
states their growth. This writes one simulated year through the real Store and
Accounts into a temporary database and prints its size:
- notices: ``--airings`` per day (the sample station has 14; default 40 for headroom),
  each one row, a few with a detail (missed, replayed);
- bulletins: ``--bulletins`` per week, each a bulletins row (~300 characters) and an
  as-run row;
- audit: ``--audit`` rows per day (logins, notice and dictionary edits with before and
  after).

    .venv/bin/python bench/growth_bench.py [--airings 40 --bulletins 3 --audit 30]
"""

import argparse
import datetime as dt
import tempfile
from pathlib import Path

from common import REPO  # noqa: F401  (puts the repo on sys.path)

from announcer.access.accounts import Accounts
from announcer.core.clock import TOKYO, FakeClock
from announcer.record.store import Store

NOTICE = {"id": "gomi", "title": "ごみ収集のお知らせ",
          "text": "明日は燃えるごみの収集日です。朝8時30分までに出してください。"}
SCRIPT = ("緊急放送、緊急放送。こちらは、真岡市役所です。真岡市の中郷地区に、土砂災害の危険が"
          "高まっているため、避難指示を発令しました。") * 3


def simulate(store: Store, accounts: Accounts, clock: FakeClock, days: int, airings: int,
             bulletins: int, audit: int) -> None:
    start = clock.now()
    for day in range(days):
        base = start + dt.timedelta(days=day)
        store.db.execute("BEGIN")
        for i in range(airings):
            at = base + dt.timedelta(minutes=20 * i)
            row = store.airing_started("notice", f"n{i % 14}", NOTICE["title"], at, at)
            status = "aired" if i % 50 else "missed"
            store.airing_ended(row, status, at + dt.timedelta(seconds=40),
                               "" if status == "aired" else "daemon was not running")
        if day % 7 < bulletins:
            at = base + dt.timedelta(hours=3)
            bid = f"{at:%Y%m%d-%H%M%S}-abcdef"
            store.add_bulletin(bid, SCRIPT, {"repeat": 2, "interrupt": True, "chime": True,
                                             "test": False}, at, None, "tanaka")
            row = store.airing_started("bulletin", bid, SCRIPT[:30], None, at)
            store.airing_ended(row, "aired", at + dt.timedelta(minutes=2))
        store.db.execute("COMMIT")
        for i in range(audit):
            clock.set(base + dt.timedelta(minutes=30 * i))
            if i % 3:
                accounts.audit("tanaka", "login", {"addr": "192.168.1.20"})
            else:
                accounts.audit("tanaka", "notice.edit", {"id": NOTICE["id"], "before": NOTICE,
                                                         "after": NOTICE})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--airings", type=int, default=40)
    parser.add_argument("--bulletins", type=int, default=3)
    parser.add_argument("--audit", type=int, default=30)
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "announcer.db"
        clock = FakeClock(dt.datetime(2027, 1, 1, 6, 0, tzinfo=TOKYO))
        store = Store(path, TOKYO)
        accounts = Accounts(store, clock)
        empty = path.stat().st_size
        store.db.execute("PRAGMA synchronous=OFF")  # a simulation: no need to wait on disk
        simulate(store, accounts, clock, args.days, args.airings, args.bulletins, args.audit)
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = path.stat().st_size - empty
        rows = {t: store.query(f"SELECT COUNT(*) AS n FROM {t}")[0]["n"]
                for t in ("airlog", "bulletins", "audit")}
        store.close()
    per_year = size * 365 / args.days
    print(f"{args.days} days at {args.airings} airings/day, {args.bulletins} bulletins/week, "
          f"{args.audit} audit rows/day: rows {rows}")
    print(f"database growth: {size / 1e6:.1f} MB, i.e. {per_year / 1e6:.1f} MB per year")


if __name__ == "__main__":
    main()
