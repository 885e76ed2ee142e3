"""The silence monitor and the alerts, measured on a private PulseAudio null sink.

1. CPU: the daemon's process tree, idle for --seconds, with monitor.device off and on
   (the difference is the monitor), and the capture process alone.
2. Silence → alarm: a short bulletin airs; from its last loud sample at the sink
   (recorded with parec) to the webhook's POST arriving at a local receiver, minus
   monitor.silence_seconds: what the daemon adds. Mail arrival (aiosmtpd) too.
3. A dead mail server: notices scheduled on the second, onset error at the sink with the
   mail courier hanging on a server that never answers, against a healthy one.

    .venv/bin/python bench/monitor_bench.py [--seconds 30] [--runs 5]
"""

import argparse
import time
from pathlib import Path

import numpy as np
from common import Bench, cpu_seconds, make_token, pct

from tests.conftest import write_config
from tests.daemonutil import jst_in, write_notice
from tests.notifyutil import DeadServer, Hooks, Mailbox

RATE = 48000
SILENCE = 3


def configure(b, monitor: bool, smtp_port: int, hook_url: str, timeout: float = 10):
    extra = f"""\
notify:
  email: {{smtp_host: 127.0.0.1, smtp_port: {smtp_port}, from: a@fm-moka.jp,
          to: [b@fm-moka.jp], timeout: {timeout}}}
  webhooks: ["{hook_url}"]
  recovery_seconds: 1
"""
    if monitor:
        extra += (f"monitor: {{device: pulse, pulse_source: onair.monitor, "
                  f"silence_seconds: {SILENCE}, on_air_seconds: 60}}\n")
    write_config(b.folder, device="default", port=b.port, extra=extra)


def all_children(pid: int) -> list[int]:
    """``pid`` and every descendant, whichever thread started it (``common.proc_tree``
    follows the main thread's children only; the capture process is the monitor
    thread's child)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                todo.extend(int(c) for c in (task / "children").read_text().split())
            except OSError:
                pass
    return out


def tree_cpu(pid: int) -> float:
    total = 0.0
    for p in all_children(pid):
        try:
            total += cpu_seconds(p)
        except OSError:
            pass
    return total


def capture_pid(pid: int) -> int | None:
    for p in all_children(pid):
        try:
            if b"announcer.watch.monitor.capture" in open(f"/proc/{p}/cmdline", "rb").read():
                return p
        except OSError:
            pass
    return None


def bench_cpu(seconds: float, box, hooks) -> None:
    print(f"== CPU, daemon idle for {seconds:.0f} s (2-core machine shared with others)")
    for monitor in (False, True):
        with Bench() as b:
            configure(b, monitor, box.port, hooks.url)
            b.daemon.start()
            time.sleep(5)  # start-up work (dictionary, first renders) out of the way
            pid = b.daemon.proc.pid
            child = capture_pid(pid)
            c0, t0 = tree_cpu(pid), time.monotonic()
            k0 = cpu_seconds(child) if child else 0.0
            time.sleep(seconds)
            wall = time.monotonic() - t0
            used = tree_cpu(pid) - c0
            line = f"  monitor {'on ' if monitor else 'off'}: daemon tree {100 * used / wall:5.2f} % of one core"
            if child:
                line += f"; capture process alone {100 * (cpu_seconds(child) - k0) / wall:5.2f} %"
            print(line)


def last_loud(rec, threshold_db=-50.0, window=0.1) -> float | None:
    """When the sound ended as the monitor defines it: the end of the last 100 ms window
    whose RMS level is at or above the threshold."""
    x = rec.samples().astype(np.float64)
    n = int(window * RATE)
    if len(x) < n:
        return None
    power = np.convolve(x * x, np.ones(n) / n, mode="valid")
    idx = np.flatnonzero(power >= 10 ** (threshold_db / 10))
    return rec.time_of(int(idx[-1]) + n - 1) if idx.size else None


def bench_alarm(runs: int) -> None:
    print(f"== silence → alarm leaving the daemon (monitor.silence_seconds: {SILENCE})")
    box, hooks = Mailbox().start(), Hooks().start()
    try:
        with Bench() as b:
            configure(b, True, box.port, hooks.url)
            token = make_token(b.folder)
            b.daemon.start()
            deadline = time.monotonic() + 30  # the start-up silence alarm first
            while not hooks.bodies("alarm", "silence") and time.monotonic() < deadline:
                time.sleep(0.05)
            extra_hook, extra_mail = [], []
            for _ in range(runs):
                n = len(hooks.bodies("alarm", "silence"))
                rec = b.pulse.record()
                status, body = b.daemon.request("POST", "/api/bulletins", {
                    "text": "訓練です。", "test": True, "repeat": 1}, token=token)
                assert status == 202, body
                deadline = time.monotonic() + 60
                while len(hooks.bodies("alarm", "silence")) <= n and time.monotonic() < deadline:
                    time.sleep(0.01)
                time.sleep(0.5)
                rec.stop()
                end = last_loud(rec)
                alarm_at = [t for t, body in hooks.received
                            if body["event"] == "silence" and body["state"] == "alarm"][-1]
                mail_at = [t for t, m in box.messages if "無音を検知" in m["Subject"]][-1]
                extra_hook.append(alarm_at - end - SILENCE)
                extra_mail.append(mail_at - end - SILENCE)
                time.sleep(1.5)
    finally:
        box.stop()
        hooks.stop()
    for name, v in (("webhook", extra_hook), ("mail", extra_mail)):
        print(f"  {name}: beyond {SILENCE} s of silence: p50 {1000 * pct(v, 50):.0f} ms, "
              f"max {1000 * max(v):.0f} ms  ({', '.join(f'{1000 * x:.0f}' for x in v)} ms)")


def bench_dead_smtp(runs: int) -> None:
    print("== notice onset error at the sink, healthy vs dead mail server")
    hooks = Hooks().start()
    try:
        for dead in (False, True):
            server = DeadServer() if dead else Mailbox().start()
            try:
                with Bench() as b:
                    configure(b, True, server.port, hooks.url, timeout=60)
                    b.daemon.start()
                    time.sleep(SILENCE + 1)  # the silence alarm: its mail hangs if dead
                    errors = []
                    for i in range(runs):
                        when = jst_in(4)
                        write_notice(b.folder, f"n{i}", f"n{i}", when, text="お知らせです。")
                        rec = b.pulse.record()
                        time.sleep(max(0, when.timestamp() - time.time()) + 6)
                        rec.stop()
                        # the previous notice may still be ending as this recording starts
                        onsets = [o for o in rec.onsets() if o > when.timestamp() - 1]
                        if onsets:
                            errors.append(onsets[0] - when.timestamp())
                    label = "dead   " if dead else "healthy"
                    a = [abs(e) for e in errors]
                    print(f"  {label}: {len(errors)}/{runs} aired, |error| p50 {1000 * pct(a, 50):.1f} ms,"
                          f" max {1000 * max(a):.1f} ms  ({', '.join(f'{1000 * e:+.0f}' for e in errors)} ms)")
            finally:
                server.stop()
    finally:
        hooks.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    box, hooks = Mailbox().start(), Hooks().start()
    try:
        bench_cpu(args.seconds, box, hooks)
    finally:
        box.stop()
        hooks.stop()
    bench_alarm(args.runs)
    bench_dead_smtp(args.runs)


if __name__ == "__main__":
    main()
