"""Emergency time-to-air, stop latency, gaps and memory, measured at the output.

For each of N bulletins posted to the running daemon (PulseAudio null sink, monitor
recorded): time to the first sound (chime) and, with the chime off, to the first speech
of a 650-character text, each measured from the moment the request is sent (as the
sender feels it: HTTP round trip and the durable commit included) and from the 202;
time from DELETE to silence.
The naive way (pyopenjtalk.tts of the whole text, then sounddevice.play) is measured
in the same run for comparison. Then the longest gap inside a whole bulletin and the
peak RSS of every daemon process while airing 5,000 characters.

    .venv/bin/python bench/emergency_bench.py [--runs 10]
"""

import argparse
import subprocess
import sys
import time

import numpy as np
from common import REPO, Bench, make_token, pct, proc_tree, status_kb

RATE = 48000
TEXT = (REPO / "bench" / "notice650.txt").read_text(encoding="utf-8").strip()
NAIVE = """
import time, sys
t0 = time.time()
from announcer.speech.jtalk import import_pyopenjtalk
import sounddevice as sd, numpy as np
jt = import_pyopenjtalk()
x, sr = jt.tts(sys.argv[1])
sd.play((np.clip(x, -32767, 32767) / 32768).astype(np.float32), sr)
print(t0, flush=True)
time.sleep(1.5)
sd.stop()
"""


def first_loud(rec, after: float, threshold=0.01):
    x = np.abs(rec.samples())
    start = max(0, int((after - rec.time_of(0)) * RATE))
    idx = np.flatnonzero(x[start:] > threshold)
    return rec.time_of(start + int(idx[0])) if idx.size else None


def silent_from(rec, after: float, threshold=0.001, hold=0.3):
    """Wall time from which the output stays silent for ``hold`` seconds."""
    x = np.abs(rec.samples())
    i = max(0, int((after - rec.time_of(0)) * RATE))
    loud = np.flatnonzero(x[i:] > threshold)
    for a, b in zip(np.r_[-1, loud], np.r_[loud, len(x) - i]):
        if b - a > hold * RATE:
            return rec.time_of(i + int(a) + 1)
    return None


def post(d, token, text, **kw):
    """(id, sent, accepted): wall times just before sending and at the 202."""
    sent = time.time()
    status, body = d.request("POST", "/api/bulletins", {"text": text, **kw}, token=token)
    assert status == 202, body
    return body["id"], sent, time.time()


def stop(d, token, bid):
    sent = time.time()
    d.request("DELETE", f"/api/bulletins/{bid}", token=token)
    return sent


def trials(b, token, runs, **kw):
    rec = b.pulse.record()
    time.sleep(0.5)
    marks = []
    for _ in range(runs):
        bid, sent, accepted = post(b.daemon, token, TEXT, repeat=1, **kw)
        time.sleep(2.0)
        marks.append((sent, accepted, stop(b.daemon, token, bid)))
        time.sleep(1.0)
    rec.stop()
    from_send = [first_loud(rec, s) - s for s, _, _ in marks]
    from_202 = [first_loud(rec, s) - a for s, a, _ in marks]
    stops = [silent_from(rec, s) - s for _, _, s in marks]
    return from_send, from_202, stops


def naive(b, runs=3):
    out = []
    for _ in range(runs):
        rec = b.pulse.record()
        time.sleep(0.3)
        p = subprocess.run([sys.executable, "-c", NAIVE, TEXT], env=b.pulse.env,
                           capture_output=True, text=True, cwd=REPO)
        rec.stop()
        t0 = float(p.stdout.split()[0])
        out.append(first_loud(rec, t0) - t0)
    return out


def gaps_and_memory(b, token):
    rec = b.pulse.record()
    bid, _sent, accepted = post(b.daemon, token, TEXT, repeat=1, chime=False)
    b.daemon.wait_for(lambda: b.daemon.get(f"/api/bulletins/{bid}", token=token)["status"]
                      == "aired", timeout=180, interval=0.5)
    rec.stop()
    x = np.abs(rec.samples())
    start = int((first_loud(rec, accepted) - rec.time_of(0)) * RATE)
    loud = np.flatnonzero(x[start:] > 0.001)
    gaps = np.diff(loud) / RATE
    big = float(gaps.max()) if gaps.size else 0.0
    bid, _, _ = post(b.daemon, token, "避難指示を発令しました。" * 416, repeat=1, chime=False)
    time.sleep(45)
    stop(b.daemon, token, bid)
    peaks = {p: status_kb(p, "VmHWM") / 1024 for p in proc_tree(b.daemon.proc.pid)}
    return big, peaks


def show(name, values, goal):
    ms = [v * 1000 for v in values]
    print(f"{name}: p50 {pct(ms, 50):.0f} ms, p95 {pct(ms, 95):.0f} ms, max {max(ms):.0f} ms"
          f" over {len(ms)}  (goal {goal})")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--quick", action="store_true",
                        help="time to air and stop only (no naive run, gaps or memory)")
    args = parser.parse_args()
    with Bench() as b:
        token = make_token(b.folder)
        b.daemon.start()
        time.sleep(2)
        chime_on, chime_on_202, stops1 = trials(b, token, args.runs, chime=True)
        chime_off, chime_off_202, stops2 = trials(b, token, args.runs, chime=False)
        if not args.quick:
            naive_times = naive(b)
            big, peaks = gaps_and_memory(b, token)
    show("first sound (chime) from the send", chime_on, "<= 150 ms")
    show("first sound (chime) from the 202", chime_on_202, "for comparison")
    show(f"first speech, chime off, {len(TEXT)} characters, from the send", chime_off,
         "<= 300 ms")
    show("first speech, chime off, from the 202", chime_off_202, "for comparison")
    show("stop: DELETE to silence", stops1 + stops2, "<= 200 ms")
    if args.quick:
        return
    show("naive tts()+sd.play(): first speech", naive_times, "for comparison")
    print(f"longest silence inside a whole bulletin: {big:.2f} s (its own pauses: "
          "sentence 0.55 s, paragraph 1.0 s)")
    main_pid = min(peaks)
    print("peak RSS while airing 5,000 characters: "
          + ", ".join(f"{'daemon' if p == main_pid else 'worker'} {v:.0f} MB"
                      for p, v in sorted(peaks.items())) + "  (goal: each <= 150 MB)")


if __name__ == "__main__":
    main()
