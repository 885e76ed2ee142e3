"""The default chimes: an ascending four-tone before a notice, descending after.

Generated once and shipped as WAV in ``voices/chimes/``; run
``python -m announcer.studio.chimes voices/chimes`` to make them again. Stations can point
``chimes.pre`` / ``chimes.post`` at their own files instead.
"""

import sys
import wave
from pathlib import Path

import numpy as np

RATE = 48000
UP = (349.23, 440.00, 523.25, 698.46)  # F4 A4 C5 F5, the classic 上り4点チャイム


def bell(freq: float, seconds: float, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    tone = sum(a * np.sin(2 * np.pi * freq * k * t) for k, a in ((1, 1.0), (2, 0.35), (3, 0.12)))
    attack = np.minimum(t / 0.008, 1.0)
    return tone * attack * np.exp(-t * 3.2)


def chime(freqs, step: float = 0.42, ring: float = 1.6, rate: int = RATE) -> np.ndarray:
    out = np.zeros(int((step * (len(freqs) - 1) + ring) * rate))
    for i, f in enumerate(freqs):
        note = bell(f, ring, rate)
        start = int(i * step * rate)
        out[start:start + len(note)] += note
    fade = np.linspace(1.0, 0.0, int(0.05 * rate))
    out[-len(fade):] *= fade
    return out / np.abs(out).max() * 0.5


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE) -> None:
    pcm = np.round(np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


def main(folder: str) -> None:
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    write_wav(out / "chime_up.wav", chime(UP))
    write_wav(out / "chime_down.wav", chime(tuple(reversed(UP))))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "voices/chimes")
