"""Emergency time-to-air, stop latency, gaps and memory, measured at the output.

For each of N bulletins posted to the running daemon (PulseAudio null sink, monitor
recorded): time to the first sound (chime) and, with the chime off, to the first speech
of a 650-character text in each voice, each measured from the moment the request is
sent (as the sender feels it: HTTP round trip and the durable commit included) and from
the 202; time from DELETE to silence.

First speech is measured twice per voice: with an opening the station has not read
before (each run's first sentence names another place, so the phrase cache cannot
help: the first piece is synthesized on the spot) and with the same text every run (its
opening is in the phrase cache after the first run, as a fixed opener is from start).
The naive way (pyopenjtalk.tts of the whole text, then sounddevice.play) is measured
in the same run for comparison. Then the longest gap inside a whole bulletin and the
peak RSS of every daemon process while airing 5,000 characters.

    .venv/bin/python bench/emergency_bench.py [--runs 10]
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

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


PLACES = ("二宮支所", "真岡消防署", "真岡警察署", "山前地区", "大内地区", "中村地区",
          "久下田駅", "井頭公園", "真岡駅", "北真岡駅", "長田地区", "物部地区", "西田井地区",
          "東郷地区", "亀山地区", "京泉地区", "寺内地区", "西郷地区", "高田地区", "鬼怒地区")


def fresh_openings(runs: int, voice: str) -> list[str]:
    """The 650-character text with an opening not read before (for this voice)."""
    assert runs <= len(PLACES), f"at most {len(PLACES)} runs have an opening of their own"
    rest = TEXT.split("。", 1)[1]
    return [f"{place}からのお知らせです。{rest}" for place in PLACES[:runs]]


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


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


def trials(b, token, runs, texts=None, **kw):
    rec = b.pulse.record()
    time.sleep(0.5)
    marks = []
    for i in range(runs):
        bid, sent, accepted = post(b.daemon, token, texts[i] if texts else TEXT, repeat=1, **kw)
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


VOICES = ("aika", "makoto")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--quick", action="store_true",
                        help="time to air and stop only (no naive run, gaps or memory)")
    args = parser.parse_args()
    print(f"load average at start: {load()}")
    speech = {}
    with Bench() as b:
        token = make_token(b.folder)
        b.daemon.start()
        time.sleep(2)
        chime_on, chime_on_202, stops = trials(b, token, args.runs, chime=True)
        for voice in VOICES:
            speech[voice, "new"] = trials(b, token, args.runs, fresh_openings(args.runs, voice),
                                          chime=False, voice=voice)
            speech[voice, "known"] = trials(b, token, args.runs, chime=False, voice=voice)
            stops += speech[voice, "new"][2] + speech[voice, "known"][2]
        if not args.quick:
            naive_times = naive(b)
            big, peaks = gaps_and_memory(b, token)
    print(f"load average at end: {load()}")
    show("first sound (chime) from the send", chime_on, "<= 150 ms")
    show("first sound (chime) from the 202", chime_on_202, "for comparison")
    for (voice, opening), (from_send, from_202, _stops) in speech.items():
        show(f"first speech, {voice}, opening {opening}, chime off, {len(TEXT)} characters,"
             " from the send", from_send, "<= 150 ms")
        show(f"first speech, {voice}, opening {opening}, from the 202", from_202,
             "for comparison")
    show("stop: DELETE to silence", stops, "<= 200 ms")
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
