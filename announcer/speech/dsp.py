"""Per-piece signal processing, run in the DSP worker process.

Kept out of the daemon's own process and out of the synthesis workers: scipy (which
pyloudnorm needs) costs about 65 MB of resident memory, and no process may grow past
150 MB. scipy is imported on first use.

Speech is prepared in this order: high-pass (DC offset and rumble out; a voice such as
nitech m001 carries an offset of about −43 dBFS while it speaks), trim (the vocoder's
closing silence, found on the filtered signal so that an offset or a low hiss cannot
hide where speech ends), a high-shelf presence lift (per voice), resampling, then the
loudness target with the peak ceiling, so every voice airs at the same level.
"""

import numpy as np

MIN_MEASURE = 0.4  # pyloudnorm needs at least one 400 ms gating block
_meters: dict = {}
_filters: dict = {}


ONSET_DB = -35.0  # 30 ms this loud (relative to the loudest block): sound a listener hears
ONSET_BLOCKS = 6  # blocks of 5 ms: shorter is a click or a thump (m001: 15–25 ms), not a word
RISE_DB = -42.0  # the rising edge before it: kept (a fricative's or an aspirate's start)


def trim(x: np.ndarray, rate: int, threshold_db: float = -45.0, keep: float = 0.01,
         keep_tail: float = 0.02, block: float = 0.005, fade: float = 0.005) -> np.ndarray:
    """Cut leading and trailing silence, keeping ``keep`` seconds before the speech
    (the time to the first sound of a bulletin counts it) and ``keep_tail`` after it
    (a decay), with short fades.

    Measured as RMS over ``block`` seconds relative to the loudest block: a voice whose
    silence carries a faint hiss (m001's sits 45–60 dB below its speech) is trimmed
    like one whose silence is digital zero.

    The speech starts at its onset: the first 30 ms at ``ONSET_DB``, with the rising
    edge just before it (blocks above ``RISE_DB``). What comes earlier and is set off by
    a dip below ``RISE_DB`` is a closure, not the word: m001 opens a word-initial stop
    (久下田, 寺内, 鬼怒) with a 15–25 ms thump and 50–70 ms of murmur 40–50 dB down before
    the burst, which a listener hears as part of the pause but which delayed the first
    sound of a bulletin by as much."""
    n = max(1, int(block * rate))
    m = len(x) // n
    if m == 0:
        return x[:0]
    rms = np.sqrt(np.mean(np.square(x[: m * n], dtype=np.float64).reshape(m, n), axis=1))
    if not rms.max() > 0:
        return x[:0]
    level = 20 * np.log10(np.maximum(rms / rms.max(), 1e-12))
    loud = np.flatnonzero(level > threshold_db)
    above = level > ONSET_DB
    run = min(ONSET_BLOCKS, len(above))
    held = np.flatnonzero(np.convolve(above, np.ones(run), "valid") == run)
    first = int(held[0]) if held.size else int(np.argmax(above))
    while first > loud[0] and level[first - 1] > RISE_DB:
        first -= 1
    out = np.array(x[max(0, first * n - int(keep * rate)):
                     (loud[-1] + 1) * n + int(keep_tail * rate)], dtype=np.float32)
    return fade_edges(out, rate, fade)


def fade_edges(x: np.ndarray, rate: int, seconds: float) -> np.ndarray:
    """Raised-cosine fade in and out over ``seconds``: no click where a piece was cut."""
    k = min(len(x) // 2, int(seconds * rate))
    if k > 0:
        ramp = (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, k))).astype(np.float32)
        x[:k] *= ramp
        x[-k:] *= ramp[::-1]
    return x


def highpass(x: np.ndarray, rate: int, hz: float) -> np.ndarray:
    """2nd-order Butterworth high-pass, started at rest (pieces begin near silence)."""
    from scipy.signal import butter, sosfilt

    key = ("hp", rate, hz)
    if key not in _filters:
        _filters[key] = butter(2, hz, "highpass", fs=rate, output="sos")
    return sosfilt(_filters[key], x).astype(np.float32)


def shelf_sos(rate: int, hz: float, gain_db: float) -> np.ndarray:
    """High-shelf biquad (RBJ audio EQ cookbook, shelf slope 1) as one SOS row."""
    a = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * hz / rate
    cos, alpha = np.cos(w0), np.sin(w0) / 2 * np.sqrt(2.0)
    root = 2 * np.sqrt(a) * alpha
    b = [a * ((a + 1) + (a - 1) * cos + root), -2 * a * ((a - 1) + (a + 1) * cos),
         a * ((a + 1) + (a - 1) * cos - root)]
    den = [(a + 1) - (a - 1) * cos + root, 2 * ((a - 1) - (a + 1) * cos),
           (a + 1) - (a - 1) * cos - root]
    return np.array([[*(v / den[0] for v in b), 1.0, den[1] / den[0], den[2] / den[0]]])


def presence(x: np.ndarray, rate: int, hz: float, gain_db: float) -> np.ndarray:
    from scipy.signal import sosfilt

    key = ("shelf", rate, hz, gain_db)
    if key not in _filters:
        _filters[key] = shelf_sos(rate, hz, gain_db)
    return sosfilt(_filters[key], x).astype(np.float32)


def high_share(x: np.ndarray, rate: int, hz: float = 4000.0) -> float:
    """The share of ``x``'s energy above ``hz`` (Welch spectrum): how dull a voice is."""
    from scipy.signal import welch

    f, p = welch(np.asarray(x, np.float64), rate, nperseg=2048)
    total = p.sum()
    return float(p[f >= hz].sum() / total) if total > 0 else 0.0


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
           trim_silence: bool = True, highpass_hz: float = 0.0, presence_db: float = 0.0,
           presence_hz: float = 3000.0) -> np.ndarray:
    """A synthesized piece or a chime, ready to air (order: see the module docstring)."""
    if not np.isfinite(x).all():  # never put garbage on air
        return np.zeros(len(x), np.float32)
    if highpass_hz:
        x = highpass(x, rate, highpass_hz)
    if trim_silence:
        x = trim(x, rate)
    if x.size == 0:
        return x.astype(np.float32)
    if presence_db:
        x = presence(x, rate, presence_hz, presence_db)
    return normalize(resample(x, rate, out_rate), out_rate, target, peak)
