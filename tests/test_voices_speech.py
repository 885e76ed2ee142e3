"""The speech side of two voices (issue 18): the DSP per preset, the quick first piece,
the accent-phrase cut, the phrase cache, and every voice warm in every worker, a
restarted one too. Real workers (``module_studio``) except for the pure functions."""

import numpy as np
import pytest
from scipy.signal import sosfreqz

from announcer.speech import accent, dsp
from announcer.speech.worker import speech_labels
from announcer.studio.phrases import PhraseCache
from announcer.text.script import Sentence
from tests.voiceutil import dc_dbfs

RATE = 48000
LABELS = ["xx^xx-sil+m=o/A", "xx^sil-m+o=o/A", "sil^m-o+o=k/A", "o^k-a+sil=xx/A",
          "k^a-sil+xx=xx/A"]


def test_speech_labels_drop_the_vocoders_silence():
    assert speech_labels(LABELS, quick=False) == LABELS[1:]
    assert speech_labels(LABELS, quick=True) == LABELS[1:-1]
    one = ["xx^xx-sil+a=xx/A", "xx^sil-a+sil=xx/A", "sil^a-sil+xx=xx/A"]
    assert speech_labels(one, quick=True) == one[1:]  # never fewer than two labels


def features(*words):
    """(surface, morae, chain_flag) as Open JTalk's NJD features."""
    return [{"string": s, "mora_size": m, "chain_flag": c} for s, m, c in words]


def test_the_first_phrase_boundary_after_enough_morae():
    f = features(("真岡", 3, -1), ("市役所", 4, 0), ("から", 2, 1), ("の", 1, 1),
                 ("お知らせ", 4, 0), ("です", 2, 1), ("。", 0, 0))
    assert accent.first_phrase(f, 5, 10) == 4  # 真岡市役所からの | お知らせです。
    assert accent.first_phrase(f, 5, 16) is None  # short enough to stay whole
    assert accent.first_phrase(f, 12, 10) is None  # no boundary after 12 morae


def test_highpass_removes_dc_and_the_shelf_lifts_the_highs():
    t = np.arange(RATE) / RATE
    x = (0.3 * np.sin(2 * np.pi * 200 * t) + 0.01).astype(np.float32)  # -40 dBFS offset
    y = dsp.highpass(x, RATE, 50)
    assert dc_dbfs(y[RATE // 2:]) < -80
    _, h = sosfreqz(dsp.shelf_sos(RATE, 3000, 12), worN=[100, 8000], fs=RATE)
    assert 20 * np.log10(abs(h[0])) == pytest.approx(0, abs=0.2)
    assert 20 * np.log10(abs(h[1])) == pytest.approx(12, abs=0.5)


def test_trim_ignores_a_faint_hiss_around_speech():
    rng = np.random.default_rng(1)
    hiss = (rng.standard_normal(RATE // 2) * 10 ** (-62 / 20)).astype(np.float32)
    tone = (0.5 * np.sin(2 * np.pi * 150 * np.arange(RATE) / RATE)).astype(np.float32)
    out = dsp.trim(np.concatenate([hiss, tone, hiss]), RATE)
    assert len(out) == pytest.approx(RATE + 0.03 * RATE, abs=0.01 * RATE)
    assert abs(out[0]) < 1e-4 and abs(out[-1]) < 1e-4  # faded: no click


def tone_at(db: float, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.5 * 10 ** (db / 20) * np.sin(2 * np.pi * 150 * t)).astype(np.float32)


def test_trim_starts_a_stop_at_its_burst_not_at_the_thump_and_murmur_before_it():
    # m001's 鬼怒: a 25 ms thump 33 dB down, 60 ms of murmur 47 dB down, then the burst.
    x = np.concatenate([tone_at(-33, 0.025), tone_at(-47, 0.06), tone_at(0, 0.5)])
    out = dsp.trim(x, RATE)
    assert len(out) == pytest.approx(0.51 * RATE, abs=0.006 * RATE)  # 10 ms before the burst


def test_trim_keeps_a_rising_onset_and_a_steady_quiet_one():
    ramp = np.concatenate([tone_at(db, 0.005) for db in (-44, -40, -38, -37, -36)])
    x = np.concatenate([ramp, tone_at(-30, 0.04), tone_at(0, 0.5)])  # a fricative's rise
    assert len(dsp.trim(x, RATE)) == len(x)
    quiet = np.concatenate([tone_at(-40, 0.1), tone_at(0, 0.5)])  # no dip: nothing to cut
    assert len(dsp.trim(quiet, RATE)) == len(quiet)


def test_the_phrase_cache_is_capped_and_least_recently_used_goes_first():
    cache = PhraseCache(RATE, max_seconds=4)
    for n in range(4):
        cache.put(str(n), np.full(RATE, 0.1 * n, np.float32))
    assert cache.get("0") is not None  # now the most recent
    cache.put("4", np.full(RATE, 0.5, np.float32))
    assert cache.seconds() == 4
    assert "1" not in cache and "0" in cache and "4" in cache
    assert cache.get("4")[0] == pytest.approx(0.5, abs=1e-4)
    cache.put("long", np.zeros(RATE * 2, np.float32))  # over a quarter of the room
    assert "long" not in cache


# -- with the real workers ---------------------------------------------------------------------
def test_the_cut_keeps_every_reading(module_studio):
    pool, voice = module_studio.pool, module_studio.voice("aika").params
    audio, head, rest = pool.synthesize_first("真岡市役所からのお知らせです。", voice, cut=(5, 10))
    assert (head, rest) == ("真岡市役所からの", "お知らせです。")
    assert 0.5 * RATE < audio.size < 1.6 * RATE  # the head only
    assert pool.synthesize_first("これは訓練です。", voice, cut=(5, 10))[1:] == (None, None)
    text = "今週末の12月6日、井頭公園でいちごフェスティバルを開催します。"
    _, head, rest = pool.synthesize_first(text, voice, cut=(5, 10))
    assert pool.reading(head) + pool.reading(rest) == pool.reading(text)


def test_a_bulletin_opening_like_an_opener_starts_from_the_phrase_cache(module_studio):
    module_studio.warm_openers()  # as the daemon does once its studio is ready
    phrases = module_studio.renderer.phrases
    for voice in ("aika", "makoto"):
        hits = phrases.hits
        program = module_studio.bulletin_program("緊急放送、緊急放送。中央地区に避難指示です。",
                                                 repeat=1, chime=False, voice=voice, urgent=False)
        first = next(program)
        program.close()
        assert phrases.hits == hits + 1
        assert first.size > 0.5 * RATE


def test_an_unknown_opening_is_cut_short_and_then_remembered(module_studio):
    renderer, voice = module_studio.renderer, module_studio.voice("makoto")
    sentence = Sentence("西田井地区の皆さんにお知らせします。")
    first, rest = renderer.first_audio(sentence, voice)
    assert rest == Sentence("皆さんにお知らせします。", "sentence")
    assert 0.3 * RATE < first.size < 1.5 * RATE  # a phrase, not the sentence
    hits = renderer.phrases.hits
    again, rest_again = renderer.first_audio(sentence, voice)
    assert renderer.phrases.hits == hits + 1 and rest_again == rest
    assert np.array_equal(again, renderer.phrases.get(renderer.phrase_key("西田井地区の", voice)))


def test_a_cut_bulletin_reads_every_word_once(module_studio):
    """The head, a short pause, then the rest of the sentence and the next one."""
    text = "北真岡駅前の皆さんにお知らせします。午後から断水します。"
    blocks = list(module_studio.bulletin_program(text, repeat=1, chime=False, voice="aika",
                                                 urgent=False))
    assert sum(b.size == 0 for b in blocks) == 1  # WORDS_DONE: where the words end
    spoken = [b for b in blocks if b.size and np.abs(b).max() > 0.01]
    assert len(spoken) == 3  # 北真岡駅前の | 皆さんにお知らせします。 | 午後から断水します。
    pauses = [len(b) / RATE for b in blocks if b.size and np.abs(b).max() == 0]
    assert pauses[0] == pytest.approx(0.08, abs=0.01)  # a short pause after the head


def test_a_restarted_worker_has_both_voices_loaded_before_it_serves(module_studio):
    pool = module_studio.pool
    for worker in pool.synth.workers:
        assert worker.request({"op": "ping"})[0]["voices"] == 2
    victim = pool.synth.workers[0]
    victim.kill()  # as after a crash: the next request starts it again
    audio, _ = pool.synthesize("あいうえお。", module_studio.voice("makoto").params)
    assert audio.size
    assert victim.request({"op": "ping"})[0]["voices"] == 2


def test_makoto_quick_piece_sounds_like_the_whole(module_studio):
    """The quick piece (no closing silence) holds the same speech as the full one."""
    studio, voice = module_studio, module_studio.voice("makoto")
    sentence = Sentence("避難してください。")
    full = studio.renderer.sentence_audio(sentence, voice)
    quick = studio.renderer.sentence_audio(sentence, voice, quick=True)
    assert len(quick) == pytest.approx(len(full), rel=0.1)
    assert dc_dbfs(quick) < -60 and dc_dbfs(full) < -60


def test_a_first_piece_whose_cut_fails_is_made_whole():
    from announcer.core.errors import SpeechError
    from announcer.studio.render import Renderer, RenderSettings
    from announcer.studio.voices import Voice

    class CutCrashes:
        dict_version = ""
        calls = []

        def synthesize_first(self, text, voice, urgent, finish, quick, cut):
            self.calls.append(cut)
            if cut:
                raise SpeechError("synthesis worker died (exit -11)")
            return np.full(RATE, 0.1, np.float32), None, None

    renderer = Renderer(CutCrashes(), RenderSettings())
    try:
        audio, rest = renderer.first_audio(Sentence("とても長い最初の文です。"), Voice("v", "v"))
        assert audio.size == RATE and rest is None
        assert CutCrashes.calls == [(5, 10), None]
    finally:
        renderer.close()
