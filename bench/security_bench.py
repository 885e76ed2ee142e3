"""The login flood of issue 9 against the real daemon: 10,000 bad logins with 250 KB
names from 4 loopback addresses (no account), every 25th a 64-character name with a
wrong password (those reach the argon2 check). Meanwhile a logged-in staff browser
on another address loads the emergency page and /healthz every 0.25 s, and a bulletin
is posted mid-flood; its time from 202 to first sound is compared with one before.

Reports: database growth, daemon RSS growth (after a 200-request warm-up), page and
health latency while flooding, time to air before and during, answers by status.

    .venv/bin/python bench/security_bench.py [--requests 10000] [--name-bytes 250000]

Measured 2026-12-02 on the 2-core build machine (shared with other jobs, load ~5):

    requests            10000 in 54.6 s (183/s), answers {401: 105, 413: 9600, 503: 295}
    database growth     402.3 KiB          (database file + WAL)
    daemon RSS growth   1.2 MiB (89 → 90 MiB)
    emergency page      p50 4 ms, p95 24 ms, max 118 ms (206 loads)
    /healthz            p50 3 ms, max 59 ms
    bulletin to air     before 67 ms, during the flood 72 ms
    login from another PC after the flood: 302

(An earlier run at load ~6: +434 KiB, +1.9 MiB, page max 444 ms, bulletin 78 → 42 ms.)
"""

import argparse
import subprocess
import sys

from common import Bench, make_token, pct

from tests.flood import database_bytes, flood, flood_in_background, rss_kb, time_to_air
from tests.httputil import Browser


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--name-bytes", type=int, default=250_000)
    args = parser.parse_args()
    with Bench() as b:
        subprocess.run([sys.executable, "-m", "announcer.cli", "--config",
                        str(b.folder / "station.yaml"), "user", "add", "sokuho",
                        "--password-stdin"], input="right-password\n", text=True, check=True,
                       capture_output=True)
        token = make_token(b.folder)
        b.daemon.start()
        rec = b.pulse.record()
        usual = time_to_air(b.daemon, token, rec)
        staff = Browser(b.port, "127.0.0.9")
        assert staff.login("sokuho", "right-password") == 302
        flood(b.port, 200, staff=staff, name_bytes=args.name_bytes)
        db0, rss0 = database_bytes(b.folder), rss_kb(b.daemon.proc.pid)
        thread, result = flood_in_background(b.port, args.requests, staff=staff,
                                             name_bytes=args.name_bytes)
        during = time_to_air(b.daemon, token, rec)
        thread.join()
        rec.stop()
        db1, rss1 = database_bytes(b.folder), rss_kb(b.daemon.proc.pid)
        other = Browser(b.port, "127.0.0.10").login("sokuho", "right-password")
    page, health = result.page_seconds, result.health_seconds
    print(f"requests            {result.sent} in {result.seconds:.1f} s "
          f"({result.sent / result.seconds:.0f}/s), answers {dict(sorted(result.statuses.items()))}")
    print(f"database growth     {(db1 - db0) / 1024:.1f} KiB")
    print(f"daemon RSS growth   {(rss1 - rss0) / 1024:.1f} MiB ({rss0 / 1024:.0f} → {rss1 / 1024:.0f} MiB)")
    print(f"emergency page      p50 {pct(page, 50) * 1000:.0f} ms, p95 {pct(page, 95) * 1000:.0f} ms, "
          f"max {max(page) * 1000:.0f} ms ({len(page)} loads)")
    print(f"/healthz            p50 {pct(health, 50) * 1000:.0f} ms, max {max(health) * 1000:.0f} ms")
    print(f"bulletin to air     before {usual * 1000:.0f} ms, during the flood {during * 1000:.0f} ms")
    print(f"login from another PC after the flood: {other}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
