"""Per-piece signal processing, run in the DSP worker process.

Kept out of the daemon's own process and out of the synthesis workers: scipy (which
pyloudnorm needs) costs about 65 MB of resident memory, and no process may grow past
150 MB. ``trim`` is numpy only; scipy is imported on first use of the rest.
"""

import numpy as np

MIN_MEASURE = 0.4  # pyloudnorm needs at least one 400 ms gating block
_meters: dict = {}


def trim(x: np.ndarray, rate: int, threshold_db: float = -50.0, keep: float = 0.01) -> np.ndarray:
    """Cut the leading and trailing silence Open JTalk adds (0.1–0.4 s, varying by text),
    keeping ``keep`` seconds, so that pauses and onsets are ours, not the vocoder's."""
    if x.size == 0:
        return x
    loud = np.flatnonzero(np.abs(x) > 10 ** (threshold_db / 20) * np.abs(x).max())
    if loud.size == 0:
        return x[:0]
    margin = int(keep * rate)
    return x[max(0, loud[0] - margin): loud[-1] + margin + 1]


def resample(x: np.ndarray, rate: int, target: int) -> np.ndarray:
    if rate == target:
        return x.astype(np.float32)
    from scipy.signal import resample_poly

    g = np.gcd(rate, target)
    return resample_poly(x, target // g, rate // g).astype(np.float32)


def loudness(x: np.ndarray, rate: int) -> float:
    import pyloudnorm

    if rate not in _meters:
        _meters[rate] = pyloudnorm.Meter(rate)
    meter = _meters[rate]
    if len(x) < MIN_MEASURE * rate:
        x = np.concatenate([x, np.zeros(int(MIN_MEASURE * rate) - len(x), x.dtype)])
    return float(meter.integrated_loudness(x.astype(np.float64)))


def normalize(x: np.ndarray, rate: int, target: float, peak: float) -> np.ndarray:
    """Gain ``x`` to ``target`` LKFS, then clip sample peaks at ``peak`` dBFS."""
    if not np.isfinite(x).all():  # never put garbage on air
        return np.zeros(len(x), np.float32)
    level = loudness(x, rate)
    if not np.isfinite(level):  # silence: nothing to measure
        return x.astype(np.float32)
    ceiling = 10 ** (peak / 20)
    gain = 10 ** ((target - level) / 20)
    return np.clip(x * gain, -ceiling, ceiling).astype(np.float32)


def finish(x: np.ndarray, rate: int, out_rate: int, target: float, peak: float,
           trim_silence: bool = True) -> np.ndarray:
    """A synthesized sentence or a chime, ready to air: trimmed, resampled, normalized."""
    if trim_silence:
        x = trim(x, rate)
    if x.size == 0:
        return x.astype(np.float32)
    return normalize(resample(x, rate, out_rate), out_rate, target, peak)
