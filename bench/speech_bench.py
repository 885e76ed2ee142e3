"""How much the announcer's rendering costs over raw pyopenjtalk, in time and memory.

    .venv/bin/python bench/speech_bench.py

Prints, for one ~650-character notice:
  (a) raw ``pyopenjtalk.tts`` time on the whole text, in a fresh process (tts call only);
  (b) ``announcer render`` as a whole CLI run (process start, workers, chimes, loudness)
      and the in-process Studio render time, each divided by (a) (goal <= 1.15);
and for memory:
  (c) the peak RSS of ``announcer render`` of 5,000 characters, per process (the CLI and
      each synthesis worker, polled from /proc) and summed (goal <= 150 MB per process);
  (d) for comparison, the peak RSS of whole-text ``pyopenjtalk.tts`` on 1,500 characters;
and per voice preset (``--voices`` prints only this):
  (e) the real-time factor of rendering the notice in a started Studio, the median pitch,
      and the share of energy above 4 kHz before the DSP (the vocoder's output) and after
      it (what airs), with the share for other presence lifts of the same preset, which is
      how each preset's ``presence_db`` was chosen.
"""

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
PYTHON = sys.executable
ANNOUNCER = str(Path(sys.executable).parent / "announcer")
RUNS = 3

NOTICE = (Path(__file__).with_name("notice650.txt")).read_text(encoding="utf-8").strip()

# Run in a fresh interpreter: import pyopenjtalk the way the workers do, time tts() only.
RAW_TTS = textwrap.dedent("""\
    import resource, sys, time
    from announcer.speech.jtalk import import_pyopenjtalk
    jt = import_pyopenjtalk()
    text = sys.stdin.read()
    start = time.perf_counter()
    wave, rate = jt.tts(text)
    seconds = time.perf_counter() - start
    print(seconds, len(wave) / rate, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    """)


def raw_tts(text: str) -> tuple[float, float, float]:
    """(tts seconds, audio seconds, peak RSS MB) of whole-text pyopenjtalk.tts."""
    run = subprocess.run([PYTHON, "-c", RAW_TTS], input=text, capture_output=True, text=True,
                         cwd=REPO, check=True)
    seconds, audio, rss_kb = run.stdout.split()
    return float(seconds), float(audio), int(rss_kb) / 1024


def make_station(folder: Path) -> Path:
    shutil.copytree(REPO / "voices", folder / "voices")
    (folder / "schedules").mkdir()
    config = folder / "station.yaml"
    config.write_text("audio: {device: file}\n"
                      "paths: {schedules: schedules, data: var, voices: voices}\n",
                      encoding="utf-8")
    # Compile the reading dictionary once, as any running station already has.
    subprocess.run([ANNOUNCER, "--config", str(config), "reading", "真岡"], check=True,
                   capture_output=True)
    return config


def cli_render(config: Path, text: str, out: Path) -> float:
    start = time.perf_counter()
    subprocess.run([ANNOUNCER, "--config", str(config), "render", text, "-o", str(out)],
                   check=True, capture_output=True)
    return time.perf_counter() - start


def studio_render(config: Path, text: str) -> tuple[float, float]:
    """(seconds, audio seconds) of rendering in a started Studio (start not timed)."""
    from announcer.core.config import load_config
    from announcer.studio.service import Studio

    studio = Studio(load_config(config))
    studio.start()
    try:
        start = time.perf_counter()
        frames = sum(len(block) for block in studio.notice_program(text))
        return time.perf_counter() - start, frames / studio.settings.rate
    finally:
        studio.stop()


# -- memory: poll the process tree ------------------------------------------------------------

def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def describe(pid: int) -> str:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    return "worker" if b"announcer.speech.worker" in cmd else Path(cmd[0].decode()).name


class TreeWatch:
    """Polls VmRSS of a process and all its descendants; keeps per-pid and summed peaks."""

    def __init__(self, pid: int, interval: float = 0.01):
        self.pid, self.interval = pid, interval
        self.peaks: dict[int, float] = {}
        self.names: dict[int, str] = {}
        self.total = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._done.is_set():
            todo, total = [self.pid], 0.0
            while todo:
                pid = todo.pop()
                todo += children(pid)
                rss = rss_mb(pid)
                if rss is None:
                    continue
                if pid not in self.names:
                    self.names[pid] = describe(pid)
                self.peaks[pid] = max(self.peaks.get(pid, 0.0), rss)
                total += rss
            self.total = max(self.total, total)
            time.sleep(self.interval)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def cli_render_memory(config: Path, text: str, out: Path) -> tuple[TreeWatch, float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.Popen([ANNOUNCER, "--config", str(config), "render", text, "-o", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    watch = TreeWatch(proc.pid)
    code = proc.wait()
    seconds = time.perf_counter() - start
    watch.stop()
    if code:
        raise SystemExit(f"announcer render exited {code}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # The max over every waited-for descendant; only meaningful if it grew.
    return watch, seconds, (after / 1024 if after > before else float("nan"))


def voices_report(config: Path) -> None:
    import numpy as np

    from announcer.core.config import load_config
    from announcer.speech import dsp
    from announcer.speech.jtalk import import_pyopenjtalk
    from announcer.studio.service import Studio
    from tests.voiceutil import median_f0

    jt = import_pyopenjtalk()
    studio = Studio(load_config(config))
    studio.start()
    try:
        sentences = [s.text for s in studio.sentences(NOTICE)]
        for voice in studio.voices.values():
            times, frames = [], 0
            for _ in range(RUNS):
                start = time.perf_counter()
                blocks = list(studio.notice_program(NOTICE, voice=voice.id, chime=False))
                times.append(time.perf_counter() - start)
            aired = np.concatenate(blocks)
            engine = jt.HTSEngine(voice.htsvoice.encode() if voice.htsvoice else
                                  jt.DEFAULT_HTS_VOICE)
            engine.set_speed(voice.speed)
            engine.add_half_tone(voice.half_tone)
            raw = [np.asarray(engine.synthesize(jt.make_label(jt.run_frontend(t))),
                              np.float64) / 32768 for t in sentences]
            rate = engine.get_sampling_frequency()
            before = dsp.high_share(np.concatenate(raw), rate)
            sweep = []
            for gain in (0, 3, 6, 9, 12, 15):
                pieces = [dsp.finish(x.astype(np.float32), rate, rate, -24.0, -1.0, True,
                                     voice.highpass_hz, gain, voice.presence_hz) for x in raw]
                sweep.append(f"{gain:+d} dB {100 * dsp.high_share(np.concatenate(pieces), rate):.2f} %")
            frames = len(aired)
            print(f"(e) {voice.id} ({voice.name}): RTF {min(times) / (frames / 48000):.3f} "
                  f"(best of {RUNS}; {frames / 48000:.1f} s of audio), median F0 "
                  f"{median_f0(aired):.0f} Hz, DC {20 * np.log10(abs(aired.mean()) + 1e-12):.0f} dBFS")
            print(f"    energy above 4 kHz: before DSP {100 * before:.2f} %, after DSP "
                  f"{100 * dsp.high_share(aired, 48000):.2f} % (highpass {voice.highpass_hz:g} Hz,"
                  f" presence {voice.presence_db:+g} dB at {voice.presence_hz:g} Hz)")
            print(f"    after DSP with presence_db: {', '.join(sweep)}")
    finally:
        studio.stop()


def main() -> None:
    if "--voices" in sys.argv[1:]:
        with tempfile.TemporaryDirectory() as tmp:
            print(f"load average {os.getloadavg()[0]:.2f}")
            voices_report(make_station(Path(tmp)))
        return
    long_text = (NOTICE * 10)[:5000]
    with tempfile.TemporaryDirectory() as tmp:
        config = make_station(Path(tmp))
        out = Path(tmp) / "out.wav"
        print(f"text: {len(NOTICE)} characters; {os.cpu_count()} CPUs; best of {RUNS} runs; "
              f"load average {os.getloadavg()[0]:.2f}")
        # First, while ru_maxrss of our children still only knows the small warm-up run.
        memory = cli_render_memory(config, long_text, out)

        raw, cli = [], []
        for _ in range(RUNS):  # interleaved, so a busy machine slows both alike
            raw.append(raw_tts(NOTICE))
            cli.append(cli_render(config, NOTICE, out))
        raw_s, cli_s = min(r[0] for r in raw), min(cli)
        print(f"(a) raw pyopenjtalk.tts, fresh process:   {raw_s:6.2f} s "
              f"(median {statistics.median(r[0] for r in raw):.2f}) for {raw[0][1]:.1f} s of audio")
        studio = [studio_render(config, NOTICE) for _ in range(RUNS)]
        studio_s = min(s[0] for s in studio)
        print(f"(b) announcer render, whole CLI run:      {cli_s:6.2f} s "
              f"(median {statistics.median(cli):.2f}) -> ratio {cli_s / raw_s:.2f} (goal <= 1.15)")
        print(f"    Studio render in process:            {studio_s:6.2f} s "
              f"for {studio[0][1]:.1f} s of audio -> ratio {studio_s / raw_s:.2f}")

        watch, seconds, children_max = memory
        print(f"(c) announcer render of {len(long_text)} characters: {seconds:.1f} s")
        for pid, peak in sorted(watch.peaks.items()):
            flag = "ok" if peak <= 150 else "OVER 150 MB"
            print(f"    pid {pid:7d} {watch.names[pid]:10s} peak RSS {peak:6.1f} MB  {flag}")
        print(f"    sum of concurrent RSS, peak:         {watch.total:6.1f} MB")
        print(f"    getrusage(RUSAGE_CHILDREN).ru_maxrss: {children_max:6.1f} MB "
              "(largest single process)")

        text_1500 = (NOTICE * 3)[:1500]
        seconds, audio, rss = raw_tts(text_1500)
        print(f"(d) whole-text pyopenjtalk.tts of {len(text_1500)} characters: "
              f"peak RSS {rss:.1f} MB ({seconds:.1f} s for {audio:.1f} s of audio)")
        voices_report(config)


if __name__ == "__main__":
    main()
