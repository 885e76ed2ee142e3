"""What the tests measure of a voice on air: pitch, loudness, DC offset."""

import numpy as np
from scipy.signal import resample_poly

RATE = 48000


def median_f0(x: np.ndarray, rate: int = RATE, lo: float = 60.0, hi: float = 400.0) -> float:
    """Median pitch (Hz) of the clearly voiced 40 ms frames, by normalized autocorrelation
    at 16 kHz. The first lag within 10 % of the best peak is taken, so a doubled period
    (an octave too low) is not mistaken for the pitch."""
    y = resample_poly(np.asarray(x, np.float64), 1, rate // 16000)
    fs, frame = 16000, 640
    lags = np.arange(int(fs / hi), int(fs / lo) + 1)
    found = []
    for i in range(0, len(y) - frame, frame // 2):
        w = y[i:i + frame] - y[i:i + frame].mean()
        if np.sqrt(np.mean(w ** 2)) < 0.01:
            continue
        spec = np.fft.rfft(w, 2 * frame)
        ac = np.fft.irfft(spec * np.conj(spec))[:frame]
        if ac[0] <= 0:
            continue
        r = ac[lags] / ac[0]
        best = r.max()
        if best < 0.6:  # unvoiced or unclear
            continue
        peaks = np.flatnonzero((r[1:-1] >= best * 0.9) & (r[1:-1] >= r[:-2]) & (r[1:-1] >= r[2:]))
        lag = lags[peaks[0] + 1] if peaks.size else lags[int(np.argmax(r))]
        found.append(fs / lag)
    assert found, "no voiced frame"
    return float(np.median(found))


def dc_dbfs(x: np.ndarray) -> float:
    return float(20 * np.log10(abs(float(np.mean(x))) + 1e-12))


def lufs(x: np.ndarray, rate: int = RATE) -> float:
    import pyloudnorm

    return float(pyloudnorm.Meter(rate).integrated_loudness(np.asarray(x, np.float64)))
