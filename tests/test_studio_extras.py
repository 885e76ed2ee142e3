"""Station-supplied audio: emergency start/stop signals and dropped-in voices."""

import shutil
import textwrap

import numpy as np
import pytest

from announcer.studio.chimes import write_wav
from announcer.core.config import load_config
from announcer.studio.service import Studio
from tests.conftest import write_config

RATE = 48000


def tone(seconds=0.5, freq=1000.0, level=0.5):
    t = np.arange(int(seconds * RATE)) / RATE
    return (level * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture
def studio_with_signals(station_dir):
    write_wav(station_dir / "voices" / "ews_start.wav", tone(freq=1000.0))
    write_wav(station_dir / "voices" / "ews_stop.wav", tone(freq=640.0))
    write_config(station_dir, extra=textwrap.dedent("""\
        emergency: {signal_start: ews_start.wav, signal_stop: ews_stop.wav}
        """))
    studio = Studio(load_config(station_dir / "station.yaml"))
    studio.start()
    yield studio
    studio.stop()


def test_signals_play_untouched_around_the_bulletin(studio_with_signals):
    blocks = list(studio_with_signals.bulletin_program("避難してください。", repeat=1,
                                                       chime=False))
    first, last = blocks[0], blocks[-2]
    # outside the loudness chain: the very samples of the station's files (16-bit)
    assert np.abs(first - tone(freq=1000.0)).max() < 1e-4
    assert np.abs(last - tone(freq=640.0)).max() < 1e-4
    speech = np.concatenate(blocks[1:-2])
    assert 0.05 < np.abs(speech).max() <= 10 ** (-1 / 20) + 1e-6


def test_a_dropped_in_htsvoice_can_be_used(station_dir):
    import pyopenjtalk

    shutil.copy(pyopenjtalk.DEFAULT_HTS_VOICE.decode(), station_dir / "voices" / "mine.htsvoice")
    (station_dir / "voices" / "mine.yaml").write_text(
        "name: 局の声\nhtsvoice: mine.htsvoice\nhalf_tone: 3.0\n", encoding="utf-8")
    studio = Studio(load_config(station_dir / "station.yaml"))
    studio.start()
    try:
        assert studio.voices["mine"].htsvoice == str(station_dir / "voices" / "mine.htsvoice")
        mine = np.concatenate(list(studio.notice_program("こんにちは。", voice="mine",
                                                         chime=False)))
        aika = np.concatenate(list(studio.notice_program("こんにちは。", chime=False)))
        assert mine.size > RATE // 2 and aika.size > RATE // 2
        assert mine.shape != aika.shape or np.abs(mine - aika).max() > 0.01
    finally:
        studio.stop()
