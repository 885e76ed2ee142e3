"""station.yaml: the station's settings, declared once with defaults and validated at load.

Every key is optional; an empty file gives the defaults below. Paths are resolved once
here (relative to the config file's directory, chimes and signals to the voices
directory), so the rest of the program only ever sees absolute paths.
"""

import dataclasses
import datetime as dt
import os
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from announcer.clock import TOKYO
from announcer.yamlfile import (Invalid, Problems, Section, boolean, choice, integer, items,
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


JMA_FEEDS = ("https://www.data.jma.go.jp/developer/xml/feed/extra.xml",
             "https://www.data.jma.go.jp/developer/xml/feed/eqvol.xml")


@dataclass(frozen=True)
class JmaConfig:
    """Official information from JMA (announcer.jma); rules in its package docstring."""
    enabled: bool = False
    feeds: tuple[str, ...] = JMA_FEEDS
    poll_seconds: int = 60
    inbox: Path = Path("var/jma-inbox")       # relative to station.yaml
    areas: tuple[str, ...] = ("0920900",)       # 市町村等 codes (warnings)
    quake_areas: tuple[str, ...] = ("311",)     # intensity areas (栃木県南部)
    wide_areas: tuple[str, ...] = ("090010", "090012")  # 南部, 南東部: rain/tornado bulletins
    rivers: tuple[str, ...] = ("鬼怒川", "小貝川")  # 指定河川洪水予報 by river name
    approve_minutes: int = 60
    templates: Path = Path("jma/templates.yaml")  # relative to the voices directory
    policy: dict = dataclasses.field(default_factory=dict)  # category -> auto|approve|log


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
    monitor: "MonitorConfig" = dataclasses.field(default_factory=lambda: MonitorConfig())
    notify: "NotifyConfig" = dataclasses.field(default_factory=lambda: NotifyConfig())

    @property
    def base_dir(self) -> Path:
        """The absolute directory relative paths in the file are resolved against."""
        return _absolute(self.path).parent


def _absolute(path: Path) -> Path:
    return Path(os.path.normpath(Path(path).expanduser().absolute()))


# --- converters specific to this file -----------------------------------------------

def _timezone(node) -> zoneinfo.ZoneInfo:
    name = text(node)
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        guess = suggest(name, zoneinfo.available_timezones())
        hint = f'（"{guess}" の間違いではありませんか？）' if guess else "（例: Asia/Tokyo）"
        raise Invalid(f'タイムゾーン "{name}" がありません{hint}') from None


def _path(node) -> Path:
    return Path(text(node)).expanduser()


def _hosts(node) -> tuple[str, ...]:
    names = []
    for item in items(node):
        name = text(item).strip().lower()
        if not name or any(c in name for c in "/ \t@"):
            raise Invalid(f'ホスト名 "{name}" は使えません（例: 192.168.1.10, fm-moka.local）')
        names.append(name)
    return tuple(names)


def _seconds(lo: float, hi: float) -> Callable[[Any], dt.timedelta]:
    as_number = number(lo, hi)
    return lambda node: dt.timedelta(seconds=as_number(node))


# --- one table per section: key -> converter; defaults come from the dataclasses -----

_SECTIONS: dict[str, tuple[type, dict[str, Callable], tuple[str, ...]]] = {
    "station": (StationConfig, {"name": text, "timezone": _timezone}, ()),
    "audio": (AudioConfig, {
        "device": text, "rate": integer(8000, 192000), "loudness": number(-70, 0),
        "peak": number(-20, 0), "latency": number(0.001, 2), "retry_seconds": number(0.1, 600),
    }, ()),
    "web": (WebConfig, {
        "host": text, "port": integer(1, 65535), "secret_key_file": _path,
        "behind_tls_proxy": boolean, "allowed_hosts": _hosts,
        "session_idle": _seconds(60, 86400), "session_lifetime": _seconds(60, 7 * 86400),
    }, ("secret_key_file",)),
    "speech": (SpeechConfig, {
        "voice": preset, "url_phrase": text, "workers": integer(1, 4),
    }, ()),
    "chimes": (ChimesConfig, {"pre": _path, "post": _path}, ("pre", "post")),
    "playout": (PlayoutConfig, {
        "grace": _seconds(0, 86400), "prerender_minutes": integer(0, 1440),
        "head_silence": number(0.1, 0.5), "tail_silence": number(0.1, 0.5),
        "cache_max_mb": integer(16, 1024 * 1024),
    }, ()),
    "emergency": (EmergencyConfig, {
        "signal_start": _path, "signal_stop": _path, "chime": boolean, "repeat": integer(1, 5),
        "max_open": integer(1, 1000), "default_expiry": _seconds(60, 7 * 86400),
    }, ("signal_start", "signal_stop")),
}
_PATHS = {"schedules": "schedules", "data": "var", "voices": "voices"}
_TOP_KEYS = ("station", "audio", "web", "paths", "speech", "chimes", "playout", "emergency",
             "jma", "monitor", "notify")


def load_config(path: Path) -> Config:
    """Read and validate ``path``; raises ConfigError listing every problem found."""
    path = Path(path)
    problems = Problems(str(path))
    root = Section(read_node(path), "", problems, _TOP_KEYS)
    parts = {name: _build(root.section(name, spec[1]), *spec)
             for name, spec in _SECTIONS.items()}
    base = _absolute(path).parent
    paths = _load_paths(root.section("paths", _PATHS), base)
    monitor, notify = _load_monitor(root), _load_notify(root, base)
    jma = _load_jma(root, base, paths.voices)
    problems.raise_if_any()
    return Config(
        path=path,
        station=parts["station"],
        audio=parts["audio"],
        web=dataclasses.replace(parts["web"], secret_key_file=_under(base, parts["web"].secret_key_file)),
        paths=paths,
        speech=parts["speech"],
        chimes=ChimesConfig(pre=_under(paths.voices, parts["chimes"].pre),
                            post=_under(paths.voices, parts["chimes"].post)),
        playout=parts["playout"],
        emergency=dataclasses.replace(
            parts["emergency"],
            signal_start=_under(paths.voices, parts["emergency"].signal_start),
            signal_stop=_under(paths.voices, parts["emergency"].signal_stop)),
        jma=jma,
        monitor=monitor,
        notify=notify,
    )


def _build(section: Section, cls: type, converters: dict[str, Callable], nullable: tuple):
    defaults = cls()
    return cls(**{
        name: section.get(name, convert, getattr(defaults, name), nullable=name in nullable)
        for name, convert in converters.items()
    })


def _load_paths(section: Section, base: Path) -> PathsConfig:
    return PathsConfig(**{
        name: _absolute(base / section.get(name, _path, Path(default)))
        for name, default in _PATHS.items()
    })


def _under(directory: Path, path: Path | None) -> Path | None:
    return None if path is None else _absolute(directory / path)


# --- monitor and notify (issue 11): the off-air silence monitor and the alerts ------

@dataclass(frozen=True)
class MonitorConfig:
    device: str | None = None        # PortAudio input name fragment, "default", or None (off)
    silence_seconds: float = 30.0
    silence_dbfs: float = -50.0      # RMS level below which the air counts as silent
    pulse_source: str | None = None  # PulseAudio source for the "pulse" device (PULSE_SOURCE)
    on_air_seconds: float = 5.0      # silence while our own item airs: the gravest alarm
    retry_seconds: float = 5.0       # wait before reopening a failed input


@dataclass(frozen=True)
class EmailConfig:
    smtp_host: str | None = None
    smtp_port: int = 25
    sender: str | None = None        # the "from" key
    to: tuple[str, ...] = ()
    starttls: bool = False
    username: str | None = None
    password_file: Path | None = None
    timeout: float = 10.0


@dataclass(frozen=True)
class NotifyConfig:
    email: EmailConfig = EmailConfig()
    webhooks: tuple[str, ...] = ()
    repeat_minutes: float = 60.0     # reminder interval while a problem lasts; 0: none
    disk_free_percent: float = 10.0  # alert when the data disk has less free space
    recovery_seconds: float = 10.0   # a problem must stay fixed this long before "recovered"


_MONITOR = {"device": text, "silence_seconds": number(1, 3600), "silence_dbfs": number(-120, 0),
            "pulse_source": text, "on_air_seconds": number(1, 600),
            "retry_seconds": number(0.5, 600)}
_EMAIL_KEYS = ("smtp_host", "smtp_port", "from", "to", "starttls", "username",
               "password_file", "timeout")
_NOTIFY_KEYS = ("email", "webhooks", "repeat_minutes", "disk_free_percent", "recovery_seconds")


def _address(node) -> str:
    value = text(node).strip()
    if value.count("@") != 1 or " " in value or value.startswith("@") or value.endswith("@"):
        raise Invalid(f'メールアドレスの形ではありません: "{value}"')
    return value


def _url(node) -> str:
    value = text(node).strip()
    if not value.startswith(("http://", "https://")) or len(value) < 10 or " " in value:
        raise Invalid(f"http:// または https:// で始まる URL を書いてください: {value[:60]}")
    return value


def _list_of(convert: Callable) -> Callable:
    def convert_all(node):
        return tuple(convert(item) for item in items(node))
    return convert_all


def _load_monitor(root: Section) -> MonitorConfig:
    return _build(root.section("monitor", _MONITOR), MonitorConfig, _MONITOR,
                  ("device", "pulse_source"))


def _load_notify(root: Section, base: Path) -> NotifyConfig:
    section = root.section("notify", _NOTIFY_KEYS)
    mail = section.section("email", _EMAIL_KEYS)
    d = EmailConfig()
    email = EmailConfig(
        smtp_host=mail.get("smtp_host", text, None, nullable=True),
        smtp_port=mail.get("smtp_port", integer(1, 65535), d.smtp_port),
        sender=mail.get("from", _address, None, nullable=True),
        to=mail.get("to", _list_of(_address), (), nullable=True) or (),
        starttls=mail.get("starttls", boolean, d.starttls),
        username=mail.get("username", text, None, nullable=True),
        password_file=_under(base, mail.get("password_file", _path, None, nullable=True)),
        timeout=mail.get("timeout", number(1, 120), d.timeout))
    if email.smtp_host and not (email.sender and email.to):
        mail.problems.add(mail.node, mail.sub("smtp_host"),
                          "メールで通知するには from と to も書いてください")
    if email.username and not email.password_file:
        mail.problems.add(mail.node, mail.sub("username"),
                          "ログインするには password_file（パスワードを書いたファイル）も指定してください")
    n = NotifyConfig()
    return NotifyConfig(
        email=email,
        webhooks=section.get("webhooks", _list_of(_url), (), nullable=True) or (),
        repeat_minutes=section.get("repeat_minutes", number(0, 10080), n.repeat_minutes),
        disk_free_percent=section.get("disk_free_percent", number(0, 99), n.disk_free_percent),
        recovery_seconds=section.get("recovery_seconds", number(0, 3600), n.recovery_seconds))
# --- jma: lists and a nested policy table ---------------------------------------------
def _listed(convert: Callable[[Any], str]) -> Callable[[Any], tuple[str, ...]]:
    def convert_all(node) -> tuple[str, ...]:
        return tuple(convert(n) for n in items(node))
    return convert_all


def _code(node) -> str:
    value = text(node)
    if not value.isascii() or not value.isdigit() or len(value) > 12:
        raise Invalid(f'地域コードは数字で書いてください（例: "0920900"）: "{value}"')
    return value


def _feed_url(node) -> str:
    value = text(node)
    if not value.startswith(("https://", "http://")) or " " in value:
        raise Invalid(f"https:// で始まる URL を書いてください: {value}")
    return value


def _load_jma(root: Section, base: Path, voices: Path) -> JmaConfig:
    from announcer.jma.policy import DECISIONS, DEFAULTS

    keys = [f.name for f in dataclasses.fields(JmaConfig)]
    section = root.section("jma", keys)
    d = JmaConfig()
    policy_section = section.section("policy", DEFAULTS)
    policy = {name: policy_section.get(name, choice(DECISIONS)) for name in DEFAULTS}
    return JmaConfig(
        enabled=section.get("enabled", boolean, d.enabled),
        feeds=section.get("feeds", _listed(_feed_url), d.feeds),
        poll_seconds=section.get("poll_seconds", integer(1, 3600), d.poll_seconds),
        inbox=_absolute(base / section.get("inbox", _path, d.inbox)),
        areas=section.get("areas", _listed(_code), d.areas),
        quake_areas=section.get("quake_areas", _listed(_code), d.quake_areas),
        wide_areas=section.get("wide_areas", _listed(_code), d.wide_areas),
        rivers=section.get("rivers", _listed(text), d.rivers),
        approve_minutes=section.get("approve_minutes", integer(1, 1440), d.approve_minutes),
        templates=_absolute(voices / section.get("templates", _path, d.templates)),
        policy={k: v for k, v in policy.items() if v},
    )
