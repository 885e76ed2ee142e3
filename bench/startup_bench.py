"""Start-up time of the daemon, as systemd and a listener see it.

For N starts of the real daemon (PulseAudio null sink), measured from spawn:
- ``READY=1`` received on a NOTIFY_SOCKET (what systemd waits for): the as-run log, the
  schedule and the staff page are up;
- the first ``/healthz`` answer;
- ``/healthz`` ``ok``: speech workers warm and the audio device flowing, i.e. the first
  moment a notice can air;
- the audio device's own open time (the daemon logs "Audio output ok" once it flows; the
  time from spawn to that minus the time to speech-ready is the sound server's share).
The first start compiles the reading dictionary; later starts reuse it (its content is
unchanged). Goal: spawn → READY ≤ 2 s on this machine kind.

    .venv/bin/python bench/startup_bench.py [--runs 5]
"""

import argparse
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from common import REPO, Bench, pct


def healthz(port: int):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
            import json

            return json.loads(r.read())
    except OSError:
        return None


def one_start(b: Bench, sock_path: str, sock: socket.socket) -> dict:
    env = dict(b.pulse.env, NOTIFY_SOCKET=sock_path)
    t0 = time.monotonic()
    log = open(b.folder / "daemon.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "announcer.cli", "--config",
                             str(b.folder / "station.yaml"), "run"], env=env,
                            stdout=subprocess.DEVNULL, stderr=log, cwd=REPO)
    got: dict[str, float] = {}
    deadline = t0 + 60
    sock.setblocking(False)
    while time.monotonic() < deadline and "ok" not in got:
        try:
            while True:
                msg = sock.recv(4096).decode()
                if "READY=1" in msg and "ready" not in got:
                    got["ready"] = time.monotonic() - t0
        except BlockingIOError:
            pass
        h = healthz(b.port)
        if h is not None and "answers" not in got:
            got["answers"] = time.monotonic() - t0
        if h is not None and h.get("status") == "ok":
            got["ok"] = time.monotonic() - t0
        time.sleep(0.01)
    proc.terminate()
    proc.wait(15)
    log.close()
    return got


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    results = []
    with Bench() as b, tempfile.TemporaryDirectory() as tmp:
        sock_path = str(Path(tmp) / "notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(sock_path)
        for i in range(args.runs):
            results.append(one_start(b, sock_path, sock))
            print(f"start {i + 1}{' (dictionary compiled)' if i == 0 else ''}: "
                  + ", ".join(f"{k} {v:.2f} s" for k, v in results[-1].items()), flush=True)
        sock.close()
    later = results[1:] or results
    for key, label in [("ready", "spawn → READY=1"), ("answers", "spawn → /healthz answers"),
                       ("ok", "spawn → first possible airing (/healthz ok)")]:
        values = [r[key] for r in later if key in r]
        print(f"{label}: p50 {pct(values, 50):.2f} s, max {max(values):.2f} s over "
              f"{len(values)} restarts; first start {results[0].get(key, float('nan')):.2f} s")
    print("goal: spawn → READY=1 ≤ 2 s")


if __name__ == "__main__":
    main()
