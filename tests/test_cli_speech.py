"""The operator commands as staff run them: the console script in a subprocess."""

import shutil
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest

from tests.conftest import REPO, write_config
from tests.voiceutil import median_f0

ANNOUNCER = str(Path(sys.executable).parent / "announcer")
NOTHING = "エラー: 読み上げられる文字がありません"


def announcer(*args, cwd: Path, env=None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([ANNOUNCER, "--config", str(cwd / "station.yaml"), *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def station(tmp_path_factory) -> Path:
    """A station whose reading dictionary is already compiled (by a first command), so
    stderr shows only what the command under test says."""
    folder = tmp_path_factory.mktemp("station")
    shutil.copytree(REPO / "voices", folder / "voices")
    (folder / "schedules").mkdir()
    write_config(folder)
    first = announcer("reading", "真岡", cwd=folder)
    assert (first.returncode, first.stdout) == (0, "モーカ\n  真岡 モーカ ← 手作り辞書（moka.csv 22 行目）\n"), \
        first.stderr
    return folder


def read_wav(path: Path) -> tuple[wave._wave_params, np.ndarray]:
    with wave.open(str(path), "rb") as w:
        params = w.getparams()
        pcm = np.frombuffer(w.readframes(params.nframes), dtype="<i2")
    return params, pcm.astype(np.float64) / 32767


# -- reading ---------------------------------------------------------------------------------

def test_reading_prints_katakana_then_the_dictionary_words(station):
    run = announcer("reading", "真岡市の井頭公園で、14:00から", cwd=station)
    assert run.returncode == 0, run.stderr
    assert run.stdout == ("モーカシノイガシラコーエンデ、ジューヨジカラ\n"
                          "  真岡 モーカ ← 手作り辞書（moka.csv 22 行目）\n"
                          "  井頭 イガシラ ← 手作り辞書（moka.csv 47 行目）\n")
    assert run.stderr == ""


def test_reading_names_the_area_list_and_staff_words(station):
    web = station / "voices" / "dict" / "web.csv"
    web.write_text("大前神社,オーサキジンジャ,0\n", encoding="utf-8")
    try:
        run = announcer("reading", "東郷地区の大前神社", cwd=station)
    finally:
        web.unlink()
    assert run.returncode == 0, run.stderr
    line = next(n for n, text in enumerate(
        (station / "voices" / "dict" / "area.csv").read_text(encoding="utf-8").splitlines(), 1)
        if text.startswith("東郷,"))
    assert run.stdout == ("ヒガシゴーチクノオーサキジンジャ\n"
                          f"  東郷 ヒガシゴー ← 地区名リスト（area.csv {line} 行目）\n"
                          "  大前神社 オーサキジンジャ ← スタッフ登録（web.csv 1 行目）\n")


def test_reading_with_accent_marks_phrases_and_nuclei(station):
    run = announcer("reading", "--accent", "真岡市の井頭公園", cwd=station)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0] == "モーカ'シノ/イガシラコ'ーエン"


# -- render ----------------------------------------------------------------------------------

def test_render_writes_the_notice_as_a_wav(station, tmp_path):
    out = tmp_path / "out.wav"
    run = announcer("render", "真岡市からのお知らせです。本日は晴天なり。", "-o", str(out),
                    cwd=station)
    assert run.returncode == 0, run.stderr
    params, x = read_wav(out)
    assert (params.nchannels, params.sampwidth, params.framerate) == (1, 2, 48000)
    assert params.nframes / 48000 > 8  # two chimes of 2.9 s and the speech
    assert pyloudnorm.Meter(48000).integrated_loudness(x) == pytest.approx(-24.0, abs=1.0)
    assert np.abs(x).max() <= 10 ** (-1 / 20) + 1 / 32767
    assert run.stderr == f"{out}: {params.nframes / 48000:.1f} 秒\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]


@pytest.mark.parametrize("text", ["", "。"])
def test_render_of_nothing_speakable_is_one_japanese_line(station, tmp_path, text):
    run = announcer("render", text, "-o", str(tmp_path / "out.wav"), cwd=station)
    assert run.returncode == 1
    assert run.stderr.splitlines() == [NOTHING]
    assert run.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_render_of_nothing_speakable_on_a_fresh_station_is_one_line(station_dir):
    run = announcer("render", "。", "-o", str(station_dir / "out.wav"), cwd=station_dir)
    assert run.returncode == 1
    assert run.stderr.splitlines() == [NOTHING]


def test_render_of_a_bad_inline_reading_is_one_japanese_line(station, tmp_path):
    run = announcer("render", "{真岡|もーか}市です。", "-o", str(tmp_path / "out.wav"),
                    cwd=station)
    assert run.returncode == 1
    assert run.stderr.splitlines() == ["エラー: 読みはカタカナで書いてください: {真岡|もーか}"]


def test_render_with_an_unknown_voice_is_refused(station, tmp_path):
    out = tmp_path / "out.wav"
    run = announcer("render", "はい。", "--voice", "nobody", "--no-chime", "-o", str(out),
                    cwd=station)
    assert run.returncode == 1
    assert run.stderr.splitlines() == ["エラー: 声「nobody」はありません。使える声: aika, makoto"]
    assert not out.exists()


def test_render_in_makoto_is_a_male_voice(station, tmp_path):
    out = tmp_path / "out.wav"
    run = announcer("render", "明日は燃えるごみの収集日です。", "--voice", "makoto", "--no-chime",
                    "-o", str(out), cwd=station)
    assert run.returncode == 0, run.stderr
    params, samples = read_wav(out)
    assert median_f0(samples) < 160


# -- config errors and help ------------------------------------------------------------------

def test_a_broken_config_lists_every_problem_with_file_and_line(tmp_path):
    config = tmp_path / "station.yaml"
    config.write_text("station: {name: FMもおか, timezon: Asia/Tokyo}\n"
                      "audio:\n  device: file\n  rate: fast\n", encoding="utf-8")
    run = announcer("reading", "真岡", cwd=tmp_path)
    assert run.returncode == 1
    assert run.stderr.splitlines() == [
        f'{config}:1: station.timezon: 不明なキー "timezon" です（"timezone" の間違いではありませんか？）',
        f'{config}:4: audio.rate: 整数で書いてください: "fast"',
    ]
    assert run.stdout == ""


def test_help_lists_every_subcommand(tmp_path):
    run = subprocess.run([ANNOUNCER, "--help"], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0
    listed = [line.split()[0] for line in run.stdout.splitlines() if line.startswith("    ")]
    assert listed[:7] == ["reading", "render", "say", "devices", "check", "run", "airlog"]


# -- say -------------------------------------------------------------------------------------

@pytest.mark.audio
def test_say_plays_on_the_output_device(station_dir, pulse):
    write_config(station_dir, device="default")
    recorder = pulse.record()
    run = announcer("say", "真岡市からのお知らせです。", "--no-chime",
                    cwd=station_dir, env=pulse.env)
    recorder.stop()
    recorder.proc.stdout.close()  # Recorder.stop() leaves parec's pipe open
    assert run.returncode == 0, run.stderr
    assert recorder.sound_seconds() > 1
