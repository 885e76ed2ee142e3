"""Reading dictionary compile time (with and without the area list) and the daemon's start
time, spawn to /healthz answering, with a cold (no compiled dictionary) and a warm start
(dictionary unchanged: no compile). Run: python bench/dict_bench.py [--runs N]"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from announcer.readings import compiler, rows  # noqa: E402
from tests.conftest import write_config  # noqa: E402
from tests.daemonutil import free_port  # noqa: E402


def compile_seconds(paths: list[Path], out: Path) -> float:
    out.unlink(missing_ok=True)
    start = time.monotonic()
    compiler.compile_dictionary(paths, out)
    return time.monotonic() - start


def start_seconds(folder: Path, port: int) -> float:
    """Spawn `announcer run` and poll /healthz; seconds until it answers."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "announcer.cli", "--config",
                             str(folder / "station.yaml"), "run"], env=env, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.monotonic() - start < 60:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    json.load(r)
                    return time.monotonic() - start
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("daemon did not answer /healthz within 60 s")
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    shipped = rows.find_dictionaries(REPO / "voices" / "dict")
    hand = [p for p in shipped if rows.kind_of(p.name) != rows.AREA]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for label, paths in (("hand-made only", hand), ("with area list", shipped)):
            words = len(rows.load_entries(paths))
            times = [compile_seconds(paths, tmp / "user.dic") for _ in range(args.runs)]
            print(f"compile, {label} ({words} words): median {statistics.median(times):.2f} s, "
                  f"max {max(times):.2f} s")
        folder = tmp / "station"
        folder.mkdir()
        shutil.copytree(REPO / "voices", folder / "voices")
        (folder / "schedules").mkdir()
        port = free_port()
        write_config(folder, device="file", port=port)
        cold = []
        for _ in range(args.runs):
            shutil.rmtree(folder / "var" / "dict", ignore_errors=True)
            cold.append(start_seconds(folder, port))
        warm = [start_seconds(folder, port) for _ in range(args.runs)]
        print(f"daemon start to /healthz, cold (compiles): median {statistics.median(cold):.2f} s, "
              f"max {max(cold):.2f} s")
        print(f"daemon start to /healthz, warm (unchanged, no compile): median "
              f"{statistics.median(warm):.2f} s, max {max(warm):.2f} s")


if __name__ == "__main__":
    main()
