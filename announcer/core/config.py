"""station.yaml: the station's settings, declared once with defaults and validated at load.

Every key is optional; an empty file gives the defaults below. Paths are resolved once
here (relative to the config file's directory, chimes and signals to the voices
directory), so the rest of the program only ever sees absolute paths.
"""

import dataclasses
import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from yaml.nodes import MappingNode

from announcer.core.clock import TOKYO
from announcer.core.config_sections import (JmaConfig, MonitorConfig, NotifyConfig,
                                             PublishConfig, absolute, build, load_jma,
                                             load_monitor, load_notify, load_publish,
                                             relative_path, seconds, under)
from announcer.core.yamlfile import (Invalid, Problems, Section, boolean, integer, items,
                                     number, preset, read_node, suggest, text)


@dataclass(frozen=True)
class StationConfig:
    name: str = "FMもおか"
    timezone: zoneinfo.ZoneInfo = TOKYO


@dataclass(frozen=True)
class AudioConfig:
    device: str = "default"          # PortAudio output name fragment, "default" or "file"
    rate: int = 48000
    loudness: float = -24.0          # integrated loudness target, LKFS
    peak: float = -1.0               # true-peak ceiling, dBFS
    latency: float = 0.05            # seconds
    retry_seconds: float = 2.0       # wait before reopening a failed device


@dataclass(frozen=True)
class WebConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    secret_key_file: Path | None = None
    behind_tls_proxy: bool = False   # trust X-Forwarded-Proto, mark cookies Secure
    allowed_hosts: tuple[str, ...] = ()  # Host header allow-list; () = host + localhost
    session_idle: dt.timedelta = dt.timedelta(hours=2)
    session_lifetime: dt.timedelta = dt.timedelta(hours=12)


@dataclass(frozen=True)
class PathsConfig:
    schedules: Path
    data: Path
    voices: Path


@dataclass(frozen=True)
class SpeechConfig:
    voice: str = "aika"              # preset name in the voices directory
    url_phrase: str = "ホームページ"  # what a URL in a notice is read as
    workers: int = 2
    # Notices without a voice of their own: (from, preset) by time of day, e.g. あいか
    # from 05:00 and まこと from 17:00 (announcer.studio.voices.rotation_voice).
    rotation: tuple[tuple[dt.time, str], ...] = ()


@dataclass(frozen=True)
class ChimesConfig:
    pre: Path | None = Path("chimes/chime_up.wav")
    post: Path | None = Path("chimes/chime_down.wav")


@dataclass(frozen=True)
class PlayoutConfig:
    grace: dt.timedelta = dt.timedelta(seconds=300)  # how late a notice may still air
    prerender_minutes: int = 30
    head_silence: float = 0.3
    tail_silence: float = 0.3
    cache_max_mb: int = 2048         # rendered notices on disk; least recently used go first


@dataclass(frozen=True)
class EmergencyConfig:
    signal_start: Path | None = None
    signal_stop: Path | None = None
    chime: bool = True
    repeat: int = 2
    max_open: int = 20               # bulletins queued or on air at once; more → 429
    default_expiry: dt.timedelta = dt.timedelta(hours=2)  # never air yesterday's emergency
    # Fixed openings whose first phrase is synthesized at start in every voice, so a
    # bulletin that begins with one is on air at once (announcer.studio.phrases).
    openers: tuple[str, ...] = ("緊急放送、緊急放送。", "こちらは、真岡市役所です。",
                                "気象庁の発表です。")


@dataclass(frozen=True)
class Config:
    path: Path                       # the config file, as given
    station: StationConfig
    audio: AudioConfig
    web: WebConfig
    paths: PathsConfig
    speech: SpeechConfig
    chimes: ChimesConfig
    playout: PlayoutConfig
    emergency: EmergencyConfig
    jma: JmaConfig = JmaConfig()
    monitor: MonitorConfig = MonitorConfig()
    notify: NotifyConfig = NotifyConfig()
    publish: PublishConfig = PublishConfig()

    @property
    def base_dir(self) -> Path:
        """The absolute directory relative paths in the file are resolved against."""
        return absolute(self.path).parent


# --- converters specific to this file -----------------------------------------------

def _timezone(node) -> zoneinfo.ZoneInfo:
    name = text(node)
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        guess = suggest(name, zoneinfo.available_timezones())
        hint = f'（"{guess}" の間違いではありませんか？）' if guess else "（例: Asia/Tokyo）"
        raise Invalid(f'タイムゾーン "{name}" がありません{hint}') from None


def _openers(node) -> tuple[str, ...]:
    found = tuple(text(item).strip() for item in items(node))
    if len(found) > 10 or any(len(t) > 60 for t in found):
        raise Invalid("書き出しは 10 個まで、それぞれ 60 文字までにしてください")
    return found


def _rotation(node) -> tuple[tuple[dt.time, str], ...]:
    if not isinstance(node, MappingNode):
        raise Invalid('時刻と声の組で書いてください（例: {"05:00": aika, "17:00": makoto}）')
    found = {}
    for key, value in node.value:
        m = re.fullmatch(r"(\d{1,2}):(\d{2})", str(key.value).strip())
        if not m or int(m[1]) > 23 or int(m[2]) > 59:
            raise Invalid(f'時刻は "HH:MM" で書いてください: "{key.value}"')
        found[dt.time(int(m[1]), int(m[2]))] = preset(value)
    return tuple(sorted(found.items()))


def _hosts(node) -> tuple[str, ...]:
    names = []
    for item in items(node):
        name = text(item).strip().lower()
        if not name or any(c in name for c in "/ \t@"):
            raise Invalid(f'ホスト名 "{name}" は使えません（例: 192.168.1.10, fm-moka.local）')
        names.append(name)
    return tuple(names)


# --- one table per section: key -> converter; defaults come from the dataclasses -----

_SECTIONS: dict[str, tuple[type, dict[str, Callable], tuple[str, ...]]] = {
    "station": (StationConfig, {"name": text, "timezone": _timezone}, ()),
    "audio": (AudioConfig, {
        "device": text, "rate": integer(8000, 192000), "loudness": number(-70, 0),
        "peak": number(-20, 0), "latency": number(0.001, 2), "retry_seconds": number(0.1, 600),
    }, ()),
    "web": (WebConfig, {
        "host": text, "port": integer(1, 65535), "secret_key_file": relative_path,
        "behind_tls_proxy": boolean, "allowed_hosts": _hosts,
        "session_idle": seconds(60, 86400), "session_lifetime": seconds(60, 7 * 86400),
    }, ("secret_key_file",)),
    "speech": (SpeechConfig, {
        "voice": preset, "url_phrase": text, "workers": integer(1, 4), "rotation": _rotation,
    }, ()),
    "chimes": (ChimesConfig, {"pre": relative_path, "post": relative_path}, ("pre", "post")),
    "playout": (PlayoutConfig, {
        "grace": seconds(0, 86400), "prerender_minutes": integer(0, 1440),
        "head_silence": number(0.1, 0.5), "tail_silence": number(0.1, 0.5),
        "cache_max_mb": integer(16, 1024 * 1024),
    }, ()),
    "emergency": (EmergencyConfig, {
        "signal_start": relative_path, "signal_stop": relative_path, "chime": boolean, "repeat": integer(1, 5),
        "max_open": integer(1, 1000), "default_expiry": seconds(60, 7 * 86400),
        "openers": _openers,
    }, ("signal_start", "signal_stop")),
}
_PATHS = {"schedules": "schedules", "data": "var", "voices": "voices"}
_TOP_KEYS = ("station", "audio", "web", "paths", "speech", "chimes", "playout", "emergency",
             "jma", "monitor", "notify", "publish")


def load_config(path: Path) -> Config:
    """Read and validate ``path``; raises ConfigError listing every problem found."""
    path = Path(path)
    problems = Problems(str(path))
    root = Section(read_node(path), "", problems, _TOP_KEYS)
    parts = {name: build(root.section(name, spec[1]), *spec)
             for name, spec in _SECTIONS.items()}
    base = absolute(path).parent
    paths = _load_paths(root.section("paths", _PATHS), base)
    monitor, notify = load_monitor(root), load_notify(root, base)
    jma = load_jma(root, base, paths.voices)
    publish = load_publish(root, base, parts["web"].host, parts["web"].port,
                           parts["station"].name)
    problems.raise_if_any()
    return Config(
        path=path,
        station=parts["station"],
        audio=parts["audio"],
        web=dataclasses.replace(parts["web"], secret_key_file=under(base, parts["web"].secret_key_file)),
        paths=paths,
        speech=parts["speech"],
        chimes=ChimesConfig(pre=under(paths.voices, parts["chimes"].pre),
                            post=under(paths.voices, parts["chimes"].post)),
        playout=parts["playout"],
        emergency=dataclasses.replace(
            parts["emergency"],
            signal_start=under(paths.voices, parts["emergency"].signal_start),
            signal_stop=under(paths.voices, parts["emergency"].signal_stop)),
        jma=jma,
        monitor=monitor,
        notify=notify,
        publish=publish,
    )


def _load_paths(section: Section, base: Path) -> PathsConfig:
    return PathsConfig(**{
        name: absolute(base / section.get(name, relative_path, Path(default)))
        for name, default in _PATHS.items()
    })
