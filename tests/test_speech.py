"""Synthesis with real pyopenjtalk in supervised workers: inputs that segfault Open JTalk,
killed workers, and the readings a Moka listener hears."""

import os
import re
import shutil
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from announcer.core.config import load_config
from announcer.core.errors import NothingToSay, SpeechError
from announcer.speech.pool import SpeechPool, VoiceParams, WorkerCrashed, WorkerProcess
from announcer.studio.service import Studio
from tests.conftest import REPO, write_config

LONG_NOTICE = ("真岡市からのお知らせです。本日、井頭公園で秋のまつりを開催します。"
               "会場では、地元の農産物や益子焼の販売、高校生によるステージ発表などがあります。"
               "車でお越しの方は、臨時駐車場をご利用ください。")
OVER_2800 = (LONG_NOTICE * 30)[:2900]
# Inputs that segfault pyopenjtalk 0.4.1 when given to it whole.
CRASHERS = {"empty": "", "stop": "。", "emoji": "😀", "a400": "ア" * 400,
            "aiueo600": "あいうえお。" * 600, "over2800": OVER_2800}
SILENT = ("empty", "stop", "emoji")  # nothing speakable: the worker answers "empty"
FATAL = ("a400", "aiueo600", "over2800")  # Open JTalk dies on them, on every attempt
NORMAL = "本日は晴天なり。"


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    folder = tmp_path_factory.mktemp("station")
    (folder / "schedules").mkdir()
    shutil.copytree(REPO / "voices", folder / "voices")
    studio = Studio(load_config(write_config(folder)))
    studio.start()
    yield studio
    studio.stop()


@pytest.fixture(scope="module")
def pool():
    """One worker, so the busy worker is the only one."""
    pool = SpeechPool(1)
    pool.start()
    yield pool
    pool.stop()


def worker_pid(pool: SpeechPool) -> int:
    """The pid the pool's (only) worker reports for itself."""
    return pool._call({"op": "ping"})[0]["pid"]


def speaks(pool: SpeechPool) -> bool:
    audio, rate = pool.synthesize(NORMAL, VoiceParams())
    return rate == 48000 and audio.size > 48000 * 0.5


# -- worker processes, found the way an operator would (/proc) -----------------------------

def worker_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == os.getpid() and b"announcer.speech.worker" in cmdline:
            pids.append(int(entry.name))
    return pids


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def wait_until_busy(pid: int, timeout: float = 10.0) -> None:
    start = cpu_ticks(pid)
    deadline = time.monotonic() + timeout
    while cpu_ticks(pid) < start + 2:
        assert time.monotonic() < deadline, "the worker never started synthesizing"
        time.sleep(0.005)


# -- crashing inputs -------------------------------------------------------------------------

@pytest.mark.parametrize("name", SILENT)
def test_nothing_speakable_is_an_error_not_a_crash(studio, name):
    crashes = studio.pool.crashes
    with pytest.raises(NothingToSay, match="^読み上げられる文字がありません$"):
        studio.render_notice(CRASHERS[name])
    with pytest.raises(NothingToSay):
        studio.reading(CRASHERS[name])
    assert studio.pool.crashes == crashes
    assert speaks(studio.pool)


@pytest.mark.parametrize("name", SILENT)
def test_pool_answers_empty_audio_for_nothing_speakable(studio, name):
    crashes = studio.pool.crashes
    audio, _ = studio.pool.synthesize(CRASHERS[name], VoiceParams())
    assert audio.size == 0
    assert studio.pool.crashes == crashes
    assert speaks(studio.pool)


@pytest.mark.parametrize("name", FATAL)
def test_a_text_that_kills_open_jtalk_costs_two_workers_not_the_caller(studio, name):
    crashes = studio.pool.crashes
    with pytest.raises(WorkerCrashed, match=r"^synthesis worker died \(exit -11\)$"):
        studio.pool.synthesize(CRASHERS[name], VoiceParams())
    assert studio.pool.crashes == crashes + 2
    assert speaks(studio.pool)


@pytest.mark.parametrize("name", FATAL)
def test_the_studio_splits_a_text_that_would_kill_open_jtalk(studio, name):
    crashes = studio.pool.crashes
    reading = studio.reading(CRASHERS[name])
    assert studio.pool.crashes == crashes
    if name == "a400":  # runs of one kana are shortened: the vocoder diverges on them
        assert reading == "アアアアア"
    else:
        assert len(reading) > len(CRASHERS[name]) * 0.9
    assert set(reading) <= set("ァアィイゥウェエォオカガキギクグケゲコゴサザシジスズセゼソゾタダチヂッツヅテデト"
                               "ドナニヌネノハバパヒビピフブプヘベペホボポマミムメモャヤュユョヨラリルレロヮワヰヱ"
                               "ヲンヴー。、")


def test_a_long_katakana_run_renders_without_a_crash(studio):
    crashes = studio.pool.crashes
    audio = np.concatenate(list(studio.notice_program("ア" * 400, chime=False)))
    assert 48000 * 1 < audio.size < 48000 * 3  # "アアアアア" and the silences
    assert studio.pool.crashes == crashes
    assert speaks(studio.pool)


def test_a_long_katakana_run_airs_nothing_above_the_ceiling(studio):
    audio = np.concatenate(list(studio.notice_program("ア" * 400, chime=False)))
    assert np.abs(audio).max() <= 10 ** (-1 / 20) + 1e-6


# -- killed workers --------------------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSEGV])
def test_a_worker_killed_mid_sentence_costs_one_retry(pool, sig):
    pid = worker_pid(pool)
    crashes = pool.crashes
    result = {}
    # Three notices in one request (~1 s of synthesis), so the kill lands mid-synthesis
    # even on a loaded machine.
    caller = threading.Thread(target=lambda: result.update(
        audio=pool.synthesize(LONG_NOTICE * 3, VoiceParams())[0]))
    caller.start()
    wait_until_busy(pid)
    os.kill(pid, sig)
    caller.join(timeout=30)
    assert result["audio"].size > 48000 * 5
    assert pool.crashes == crashes + 1
    assert worker_pid(pool) != pid
    assert pid not in worker_pids()


def test_an_idle_worker_killed_is_replaced_on_next_use(pool):
    pid = worker_pid(pool)
    os.kill(pid, signal.SIGKILL)
    assert speaks(pool)
    assert worker_pid(pool) != pid
    assert pid not in worker_pids()


def test_stopped_pool_leaves_no_worker_behind():
    others = set(worker_pids())
    pool = SpeechPool(2)
    pool.start()
    mine = set(worker_pids()) - others
    pool.stop()
    assert len(mine) == 3  # two synthesis workers and the DSP worker
    assert not mine & set(worker_pids())


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_a_worker_closes_its_pipes(how):
    worker = WorkerProcess()
    worker.start()
    pipes = worker.proc.stdin, worker.proc.stdout
    getattr(worker, how)()
    closed = [p.closed for p in pipes]
    for p in pipes:
        p.close()
    assert closed == [True, True]


def test_unknown_request_is_a_speech_error(pool):
    with pytest.raises(SpeechError, match="^unknown op 'sing'$"):
        pool._call({"op": "sing"})
    assert speaks(pool)


# -- readings of local names -----------------------------------------------------------------

@pytest.mark.parametrize("text, reading", [
    ("真岡市", "モーカシ"),
    ("益子町", "マシコマチ"),
    ("井頭公園", "イガシラコーエン"),
    ("茂木町", "モテギマチ"),
    ("真岡鐵道", "モーカテツドー"),
    ("西田井駅", "ニシダイエキ"),
    ("北真岡駅", "キタモーカエキ"),
    ("下野市", "シモツケシ"),
    ("小山市", "オヤマシ"),
    ("FMもおか", "エフエムモーカ"),
    ("14:00", "ジューヨジ"),
    ("〒321-4395", "ユービンバンゴー、サンニーイチノ、ヨンサンキューゴー"),
    ("{真岡|マオカ}市", "マオカシ"),
])
def test_reading_of_local_names(studio, text, reading):
    assert studio.reading(text) == reading


def test_reading_joins_sentences_with_full_stops(studio):
    assert studio.reading("真岡市です。益子町です。") == "モーカシデス。マシコマチデス"


# -- accent notation ---------------------------------------------------------------------------

def test_accent_notation_of_a_local_phrase(studio):
    assert studio.reading("真岡市の井頭公園", accent=True) == "モーカ'シノ/イガシラコ'ーエン"


@pytest.mark.parametrize("text", ["真岡市の井頭公園で、14:00から花火大会があります。",
                                  "〒321-4395", "益子町と茂木町は晴れるでしょう。", "真岡鐵道"])
def test_accent_notation_marks_each_phrase_once(studio, text):
    notation = studio.reading(text, accent=True)
    phrases = re.split("[/、。]", notation)
    assert all(p.count("'") == 1 for p in phrases), notation
    assert notation.replace("'", "").replace("/", "") == studio.reading(text)
