"""Rendered notices measured on the real output: loudness, peaks, silence, chimes, cache."""

import gc
import shutil
import warnings

import numpy as np
import pyloudnorm
import pytest

from announcer.core.config import load_config
from announcer.studio.render import load_clip
from announcer.studio.service import Studio
from tests.conftest import REPO, write_config

RATE = 48000
CEILING = 10 ** (-1 / 20)  # −1 dBFS
QUANTUM = 1 / 32767  # one int16 step
NOTICE = ("真岡市からのお知らせです。本日14:00から、井頭公園で秋のまつりを開催します。"
          "会場では、地元の農産物や益子焼の販売があります。"
          "車でお越しの方は、臨時駐車場をご利用ください。")


def make_station(folder):
    shutil.copytree(REPO / "voices", folder / "voices")
    (folder / "schedules").mkdir()
    # A fast speaker keeps the 5,000-character render short; the split does not depend on it.
    (folder / "voices" / "fast.yaml").write_text("name: はやい\nspeed: 2.0\n", encoding="utf-8")
    return load_config(write_config(folder))


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    studio = Studio(make_station(tmp_path_factory.mktemp("station")))
    studio.start()
    yield studio
    studio.stop()


@pytest.fixture(scope="module")
def notice(studio) -> np.ndarray:
    """The cached notice with chimes, as float samples."""
    return np.asarray(studio.render_notice(NOTICE), dtype=np.float64) / 32767


@pytest.fixture(scope="module")
def bare(studio) -> np.ndarray:
    return np.asarray(studio.render_notice(NOTICE, chime=False), dtype=np.float64) / 32767


def sound(x: np.ndarray, threshold: float = 0.001) -> np.ndarray:
    return np.flatnonzero(np.abs(x) > threshold)


def head_and_tail(x: np.ndarray) -> tuple[float, float]:
    loud = sound(x)
    return loud[0] / RATE, (len(x) - 1 - loud[-1]) / RATE


def f0(x: np.ndarray) -> float:
    """Median pitch of the voiced 40 ms frames (autocorrelation)."""
    frame, found = int(0.04 * RATE), []
    for i in range(0, len(x) - frame, frame):
        w = x[i:i + frame] - x[i:i + frame].mean()
        if np.sqrt((w ** 2).mean()) < 0.02:
            continue
        ac = np.correlate(w, w, "full")[frame - 1:]
        lag = RATE // 400 + int(np.argmax(ac[RATE // 400:RATE // 60]))
        if ac[lag] > 0.5 * ac[0]:
            found.append(RATE / lag)
    return float(np.median(found))


# -- loudness, peaks, silence ---------------------------------------------------------------

@pytest.mark.parametrize("program", ["notice", "bare"])
def test_integrated_loudness_is_minus_24_lkfs(program, request):
    x = request.getfixturevalue(program)
    assert pyloudnorm.Meter(RATE).integrated_loudness(x) == pytest.approx(-24.0, abs=1.0)


@pytest.mark.parametrize("program", ["notice", "bare"])
def test_sample_peaks_stay_below_minus_1_dbfs(program, request):
    x = request.getfixturevalue(program)
    assert np.abs(x).max() <= CEILING + QUANTUM


def head_and_tail_at(x: np.ndarray, db: float) -> tuple[float, float]:
    loud = sound(x, 10 ** (db / 20))
    return loud[0] / RATE, (len(x) - 1 - loud[-1]) / RATE


@pytest.mark.parametrize("program", ["notice", "bare", "short"])
@pytest.mark.parametrize("db", [-50, -60, -70])  # silence measured at each floor
def test_head_and_tail_silence_are_within_the_standard(program, db, request):
    head, tail = head_and_tail_at(request.getfixturevalue(program), db)
    assert 0.1 <= head <= 0.5
    assert 0.1 <= tail <= 0.5


@pytest.fixture(scope="module")
def short(studio) -> np.ndarray:
    """A short notice with the sample config's chimes: the post chime's quiet ring once
    made its tail 0.61 s at −50 dBFS."""
    return np.asarray(studio.render_notice("ごみの収集日です。"), dtype=np.float64) / 32767


# -- chimes ---------------------------------------------------------------------------------

def test_the_notice_opens_with_the_pre_chime(studio, notice):
    start = round(studio.settings.head * RATE)
    pre = studio.pre.astype(np.float64)
    assert np.abs(notice[start:start + len(pre)] - pre).max() <= QUANTUM
    assert len(sound(notice[start + len(pre):start + len(pre) + int(0.3 * RATE)])) == 0


def test_the_notice_closes_with_the_post_chime(studio, notice):
    end = len(notice) - round(studio.settings.tail * RATE)
    post = studio.post.astype(np.float64)
    assert np.abs(notice[end - len(post):end] - post).max() <= QUANTUM


def test_without_chimes_speech_comes_first(studio, notice, bare):
    chimes = len(studio.pre) + len(studio.post) + 2 * round(studio.settings.chime_gap * RATE)
    assert len(notice) - len(bare) == chimes
    head, n = round(studio.settings.head * RATE), len(studio.pre)
    gap = round(studio.settings.chime_gap * RATE)
    assert np.abs(bare[head:head + n] - studio.pre).max() > 0.1
    speech = bare[head:len(bare) - head]
    assert np.array_equal(notice[head + n + gap:][:len(speech)], speech)


# -- cache ----------------------------------------------------------------------------------

def count_synthesis(studio, monkeypatch) -> list:
    calls = []
    real = studio.pool.synthesize

    def counting(*args, **kw):
        calls.append(args[0])
        return real(*args, **kw)

    monkeypatch.setattr(studio.pool, "synthesize", counting)
    return calls


def test_a_second_render_is_a_cache_hit(studio, monkeypatch):
    calls = count_synthesis(studio, monkeypatch)
    first = studio.render_notice("益子町からのお知らせです。", chime=False)
    assert calls == ["益子町からのお知らせです。"]
    second = studio.render_notice("益子町からのお知らせです。", chime=False)
    assert calls == ["益子町からのお知らせです。"]
    # the first is mapped from its temporary name (mapped before the rename, so a prune
    # cannot take it); the hit is the finished file of the same key
    assert second.filename.suffix == ".s16"
    assert second.filename.name.split(".")[0] == first.filename.name.split(".")[0]
    assert second.dtype == np.dtype("<i2")
    assert np.array_equal(second, first)


def test_the_cache_key_is_stable(studio):
    again = Studio(studio.config)
    try:
        again.reload_dictionary()
        assert again.notice_key(NOTICE) == studio.notice_key(NOTICE)
    finally:
        again.stop()


@pytest.mark.parametrize("change", [
    {"text": NOTICE + "以上です。"},
    {"voice": "makoto"},
    {"chime": False},
    {"repeat": 2},
])
def test_the_cache_key_changes_with_what_is_heard(studio, change):
    assert studio.notice_key(**{"text": NOTICE} | change) != studio.notice_key(NOTICE)


def test_the_cache_key_changes_with_the_dictionary(station_dir):
    studio = Studio(load_config(station_dir / "station.yaml"))
    try:
        studio.reload_dictionary()
        before, version = studio.notice_key(NOTICE), studio.dict_version
        with open(station_dir / "voices" / "dict" / "moka.csv", "a", encoding="utf-8") as f:
            f.write("久下田,クゲタ,0\n")
        studio.reload_dictionary()
        assert studio.dict_version != version
        assert studio.notice_key(NOTICE) != before
    finally:
        studio.stop()


# -- voices and long texts ------------------------------------------------------------------

def test_makoto_is_a_lower_voice_at_the_same_loudness(studio, bare):
    makoto = np.asarray(studio.render_notice(NOTICE, voice="makoto", chime=False),
                        dtype=np.float64) / 32767
    assert 0.8 <= len(makoto) / len(bare) <= 1.3  # another speaker, a similar pace
    assert f0(makoto) < 0.7 * f0(bare)
    assert pyloudnorm.Meter(RATE).integrated_loudness(makoto) == pytest.approx(-24.0, abs=1.0)


@pytest.mark.slow
def test_5000_characters_render_without_a_crash(studio):
    text = (NOTICE * 60)[:5000]
    crashes, frames, peak = studio.pool.crashes, 0, 0.0
    for block in studio.notice_program(text, voice="fast", chime=False):
        assert np.isfinite(block).all()
        frames += len(block)
        peak = max(peak, float(np.abs(block).max(initial=0.0)))
    assert studio.pool.crashes == crashes
    assert frames / RATE > 300  # about 13 minutes at normal speed, half at speed 2.0
    assert peak <= CEILING


def test_load_clip_closes_the_file():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clip, rate = load_clip(REPO / "voices" / "chimes" / "chime_up.wav")
        gc.collect()
    assert rate == RATE and clip.size > RATE
    assert [w.category for w in caught if w.category is ResourceWarning] == []
