"""``bench/soak_bench.py --report``: the slopes of an earlier run's samples, with the floor
slope that leaves out a notice's render mapped while it airs."""

import csv
import subprocess
import sys

from tests.conftest import REPO

FIELDS = ("t_s", "rss_kb", "tree_rss_kb", "threads", "fds", "wal_bytes", "db_bytes",
          "journal_entries", "status_polls", "poll_errors", "bulletins")


def test_the_floor_slope_ignores_a_mapping_that_comes_and_goes(tmp_path):
    path = tmp_path / "soak.csv"
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        for n in range(1, 2 * 360 + 1):  # 2 h every 10 s: flat, 1 MB up every 3rd sample
            rss = 90_000 + (1_024 if n % 3 == 0 else 0) + (2_048 if n > 300 else 0)
            writer.writerow(dict.fromkeys(FIELDS, 0) | {"t_s": n * 10.0, "rss_kb": rss})
    out = subprocess.run([sys.executable, "bench/soak_bench.py", "--report", str(path)],
                         cwd=REPO, capture_output=True, text=True, timeout=60, check=True).stdout
    last_hour = next(line for line in out.splitlines() if line.startswith("RSS slope, last hour"))
    assert last_hour.endswith("floor +0.00 MiB/h"), out  # the step was before the last hour
    whole = next(line for line in out.splitlines() if line.startswith("RSS slope, whole run"))
    assert "floor +0.0" not in whole and "720 samples over 120.0 min" in out
