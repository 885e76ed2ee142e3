import datetime as dt
import zoneinfo
from pathlib import Path

import pytest

from announcer.core.config import load_config
from announcer.core.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def write(tmp_path, monkeypatch):
    """Write station.yaml in a fresh working directory and return its relative path."""
    monkeypatch.chdir(tmp_path)

    def write(text: str) -> Path:
        path = Path("station.yaml")
        path.write_text(text, encoding="utf-8")
        return path
    return write


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value.problems


def test_empty_file_gives_defaults(write, tmp_path):
    config = load_config(write(""))
    assert config.path == Path("station.yaml")
    assert config.base_dir == tmp_path
    assert config.station.name == "FMもおか"
    assert config.station.timezone == zoneinfo.ZoneInfo("Asia/Tokyo")
    assert config.audio.device == "default"
    assert (config.audio.rate, config.audio.loudness, config.audio.peak) == (48000, -24.0, -1.0)
    assert (config.web.host, config.web.port, config.web.secret_key_file) == ("127.0.0.1", 8080, None)
    assert config.speech.voice == "aika"
    assert config.speech.workers == 2
    assert config.playout.grace == dt.timedelta(seconds=300)
    assert config.playout.head_silence == 0.3
    assert config.emergency.signal_start is None
    assert config.emergency.repeat == 2


def test_paths_are_absolute_and_relative_to_the_config_file(write, tmp_path):
    config = load_config(write("paths: {schedules: notices/fm, data: /srv/announcer}\n"))
    assert config.paths.schedules == tmp_path / "notices" / "fm"
    assert config.paths.data == Path("/srv/announcer")
    assert config.paths.voices == tmp_path / "voices"


def test_paths_relative_to_config_in_another_directory(tmp_path, monkeypatch):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "station.yaml").write_text("paths: {data: ../var}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    config = load_config(Path("etc/station.yaml"))
    assert config.paths.data == tmp_path / "var"
    assert config.paths.schedules == tmp_path / "etc" / "schedules"


def test_chimes_resolve_under_voices_and_null_means_none(write, tmp_path):
    config = load_config(write("paths: {voices: v}\nchimes: {pre: null, post: ding.wav}\n"))
    assert config.chimes.pre is None
    assert config.chimes.post == tmp_path / "v" / "ding.wav"


def test_default_chimes(write, tmp_path):
    config = load_config(write(""))
    assert config.chimes.pre == tmp_path / "voices" / "chimes" / "chime_up.wav"


def test_unknown_key_suggests_the_near_one(write):
    path = write("station:\n  name: FMもおか\n  tmezone: Asia/Tokyo\n")
    assert problems(path) == [
        'station.yaml:3: station.tmezone: 不明なキー "tmezone" です（"timezone" の間違いではありませんか？）'
    ]


def test_unknown_section_lists_what_exists(write):
    assert problems(write("xyz: 1\n")) == [
        'station.yaml:1: xyz: 不明なキー "xyz" です（使えるキー: station, audio, web, paths,'
        " speech, chimes, playout, emergency, jma, monitor, notify, publish）"
    ]


def test_bad_timezone(write):
    assert problems(write("station:\n  timezone: Asia/Tokio\n")) == [
        'station.yaml:2: station.timezone: タイムゾーン "Asia/Tokio" がありません'
        '（"Asia/Tokyo" の間違いではありませんか？）'
    ]


def test_every_problem_is_reported_at_once(write):
    path = write("web:\n  port: 70000\naudio:\n  rate: fast\nspeech:\n  workers: 9\n")
    assert problems(path) == [
        "station.yaml:2: web.port: 1 から 65535 までの値にしてください: 70000",
        'station.yaml:4: audio.rate: 整数で書いてください: "fast"',
        "station.yaml:6: speech.workers: 1 から 4 までの値にしてください: 9",
    ]


def test_blank_value_means_default(write):
    assert load_config(write("web:\n  port:\n")).web.port == 8080


def test_bool_and_silence_ranges(write):
    path = write("emergency: {chime: maybe}\nplayout: {head_silence: 0.9}\n")
    assert problems(path) == [
        'station.yaml:1: emergency.chime: true か false で書いてください: "maybe"',
        "station.yaml:2: playout.head_silence: 0.1 から 0.5 までの値にしてください: 0.9",
    ]


def test_section_must_be_a_mapping(write):
    assert problems(write("audio: loud\n")) == ["station.yaml:1: audio: 「キー: 値」の形で書いてください"]


def test_missing_file(write):
    assert problems(Path("station.yaml")) == ["station.yaml: ファイルがありません"]


def test_yaml_syntax_error_has_its_line(write):
    path = write("station:\n  name: FMもおか\n\tport: 1\n")
    assert problems(path) == [
        "station.yaml:3: YAML の書き方に誤りがあります: 字下げにはタブではなく半角スペースを"
        "使ってください（found character '\\t' that cannot start any token）"
    ]


def test_duplicate_key(write):
    assert problems(write("web:\n  port: 1\n  port: 2\n")) == [
        "station.yaml:3: web.port: キーが重複しています（2 行目にもあります）"
    ]


def test_grace_is_a_timedelta(write):
    assert load_config(write("playout: {grace: 90}\n")).playout.grace == dt.timedelta(seconds=90)


def test_shipped_station_yaml_loads():
    config = load_config(REPO / "station.yaml")
    assert config.station.name == "FMもおか"
    assert config.paths.schedules == REPO / "schedules"
    assert config.web.port == 8080


def test_monitor_and_notify_defaults(write):
    config = load_config(write(""))
    assert config.monitor.device is None
    assert (config.monitor.silence_seconds, config.monitor.silence_dbfs) == (30, -50)
    email = config.notify.email
    assert (email.smtp_host, email.smtp_port, email.sender, email.to) == (None, 25, None, ())
    assert config.notify.webhooks == () and config.notify.repeat_minutes == 60


def test_monitor_and_notify_keys(write, tmp_path):
    config = load_config(write(
        "monitor: {device: pulse, silence_seconds: 2, silence_dbfs: -60, pulse_source: onair.monitor}\n"
        "notify:\n"
        "  email: {smtp_host: mail.fm-moka.jp, smtp_port: 587, from: a@fm-moka.jp,"
        " to: [b@fm-moka.jp, c@fm-moka.jp], starttls: true, username: a, password_file: pw}\n"
        "  webhooks: [https://hooks.slack.com/services/T/B/X]\n"
        "  repeat_minutes: 0\n"))
    assert config.monitor.device == "pulse" and config.monitor.pulse_source == "onair.monitor"
    assert config.monitor.silence_seconds == 2 and config.monitor.silence_dbfs == -60
    email = config.notify.email
    assert (email.smtp_port, email.sender, email.to) == (587, "a@fm-moka.jp",
                                                        ("b@fm-moka.jp", "c@fm-moka.jp"))
    assert email.starttls and email.password_file == tmp_path / "pw"
    assert config.notify.webhooks == ("https://hooks.slack.com/services/T/B/X",)
    assert config.notify.repeat_minutes == 0


def test_notify_problems_each_with_its_line(write):
    assert problems(write(
        "notify:\n"
        "  email: {smtp_host: mail, to: nobody}\n"
        "  webhooks: [ftp://x]\n"
        "  repeat_minute: 5\n")) == [
        'station.yaml:2: notify.email.to: メールアドレスの形ではありません: "nobody"',
        "station.yaml:2: notify.email.smtp_host: メールで通知するには from と to も書いてください",
        "station.yaml:3: notify.webhooks: http:// または https:// で始まる URL を書いてください: ftp://x",
        'station.yaml:4: notify.repeat_minute: 不明なキー "repeat_minute" です'
        '（"repeat_minutes" の間違いではありませんか？）',
    ]
