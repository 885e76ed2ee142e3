"""The sections of station.yaml owned by the parts that watch the station, relay
official information and publish what aired (``monitor``, ``notify``, ``jma``,
``publish``), and the converters every section shares. ``announcer.core.config``
assembles them into one ``Config``.

Rules as in ``config``: every key optional, defaults in the dataclasses, every problem
as ``file:line: key: message`` in Japanese, paths resolved to absolute ones here.
"""

import dataclasses
import datetime as dt
import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from yaml.nodes import MappingNode, ScalarNode

from announcer.core.yamlfile import (Invalid, Section, boolean, choice, integer, items, number,
                                     preset, text)


# --- converters every section shares -------------------------------------------------

def absolute(path: Path) -> Path:
    return Path(os.path.normpath(Path(path).expanduser().absolute()))


def relative_path(node) -> Path:
    return Path(text(node)).expanduser()


def seconds(lo: float, hi: float) -> Callable[[Any], dt.timedelta]:
    as_number = number(lo, hi)
    return lambda node: dt.timedelta(seconds=as_number(node))


def build(section: Section, cls: type, converters: dict[str, Callable], nullable: tuple):
    defaults = cls()
    return cls(**{
        name: section.get(name, convert, getattr(defaults, name), nullable=name in nullable)
        for name, convert in converters.items()
    })


def under(directory: Path, path: Path | None) -> Path | None:
    return None if path is None else absolute(directory / path)


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
    volcanoes: tuple[str, ...] = ("那須岳", "日光白根山")  # 噴火警報・予報 by volcano name
    offices: tuple[str, ...] = ("宇都宮地方気象台",)  # the local office (府県気象情報, feed filter)
    approve_minutes: dict = dataclasses.field(default_factory=dict)  # category -> minutes
    max_age_minutes: dict = dataclasses.field(default_factory=dict)  # category -> minutes
    unattended_minutes: int | None = None     # an unapproved warning draft airs after N min
    templates: Path = Path("jma/templates.yaml")  # relative to the voices directory
    policy: dict = dataclasses.field(default_factory=dict)  # category -> auto|approve|log
    voice: str | None = None  # voice preset JMA items are read in; None: speech.voice


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


def load_monitor(root: Section) -> MonitorConfig:
    return build(root.section("monitor", _MONITOR), MonitorConfig, _MONITOR,
                  ("device", "pulse_source"))


def load_notify(root: Section, base: Path) -> NotifyConfig:
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
        password_file=under(base, mail.get("password_file", relative_path, None, nullable=True)),
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


# What ``jma.policy`` may say per category (``announcer.jma.policy`` applies them), and
# per category: (decision, max_age_minutes, approve_minutes). Why each default is what
# it is: README 「気象庁の情報」.
JMA_DECISIONS = ("auto", "approve", "log")
JMA_CATEGORIES = {
    "special_warning": ("auto", 60, 180),    # 特別警報, レベル５氾濫特別警報・氾濫発生情報
    "danger": ("auto", 60, 180),             # 警戒レベル４: 危険警報, 土砂災害警戒情報, 氾濫危険
    "record_rain": ("auto", 20, 30),         # 記録的短時間大雨情報, 線状降水帯
    "quake_strong": ("auto", 10, 30),        # 震度5弱以上
    "warning": ("approve", 60, 180),         # 警報 (レベル３), 氾濫警戒情報・レベル３氾濫警報
    "tornado": ("approve", 60, 60),          # 竜巻注意情報 (never past its ValidDateTime)
    "quake_moderate": ("approve", 10, 15),   # 震度3・4
    "weather_info": ("approve", 120, 120),   # 府県気象情報, 短時間大雪など
    "volcano": ("approve", 60, 120),         # 噴火警報・予報 (jma.volcanoes)
    "advisory": ("log", 60, 60),             # 注意報 (レベル２), 氾濫注意情報
    "other": ("log", 60, 60),                # 震度1・2, 降灰予報, 南海トラフ, 津波 …
}
JMA_POLICY_DEFAULTS = {c: v[0] for c, v in JMA_CATEGORIES.items()}
# Names of issue 10, still accepted in station.yaml: all 警戒レベル４ items share one default.
JMA_POLICY_ALIASES = {"landslide": "danger", "flood_danger": "danger",
                      "flood_warning": "warning"}


def _minutes_table(section: Section, name: str, lo: int, hi: int) -> dict:
    """``name: N`` (every category) or ``name: {category: N, …}``."""
    node = section.node_of(name)
    if node is None or not isinstance(node, MappingNode):
        value = section.get(name, integer(lo, hi), None)
        return {c: value for c in JMA_CATEGORIES} if value is not None else {}
    table = section.section(name, JMA_CATEGORIES)
    return {c: v for c in JMA_CATEGORIES
            if (v := table.get(c, integer(lo, hi), None)) is not None}


def load_jma(root: Section, base: Path, voices: Path) -> JmaConfig:
    keys = [f.name for f in dataclasses.fields(JmaConfig)]
    section = root.section("jma", keys)
    d = JmaConfig()
    policy_section = section.section("policy", (*JMA_POLICY_DEFAULTS, *JMA_POLICY_ALIASES))
    policy = {}
    for name in (*JMA_POLICY_ALIASES, *JMA_POLICY_DEFAULTS):  # a category beats its alias
        value = policy_section.get(name, choice(JMA_DECISIONS))
        if value:
            policy[JMA_POLICY_ALIASES.get(name, name)] = value
    return JmaConfig(
        enabled=section.get("enabled", boolean, d.enabled),
        feeds=section.get("feeds", _listed(_feed_url), d.feeds),
        poll_seconds=section.get("poll_seconds", integer(1, 3600), d.poll_seconds),
        inbox=absolute(base / section.get("inbox", relative_path, d.inbox)),
        areas=section.get("areas", _listed(_code), d.areas),
        quake_areas=section.get("quake_areas", _listed(_code), d.quake_areas),
        wide_areas=section.get("wide_areas", _listed(_code), d.wide_areas),
        rivers=section.get("rivers", _listed(text), d.rivers),
        volcanoes=section.get("volcanoes", _listed(text), d.volcanoes),
        offices=section.get("offices", _listed(text), d.offices),
        approve_minutes=_minutes_table(section, "approve_minutes", 1, 1440),
        max_age_minutes=_minutes_table(section, "max_age_minutes", 1, 10080),
        unattended_minutes=section.get("unattended_minutes", integer(1, 1440), None,
                                       nullable=True),
        templates=absolute(voices / section.get("templates", relative_path, d.templates)),
        policy=policy,
        voice=section.get("voice", preset, d.voice),
    )


# --- publish (issue 19): the public page and podcast feed of what aired ----------------

@dataclass(frozen=True)
class PublishConfig:
    """What aired, for everyone (``announcer.publish``); rules in its package docstring."""
    enabled: bool = True
    dir: Path = Path("var/public")          # relative to station.yaml
    days: int = 7                           # days shown, today included; older ones removed
    drills: bool = False                    # drills shown marked 【訓練】 (true) or left out
    url: str | None = None                  # where the folder is published (feed links);
                                            # None: http://<web.host>:<web.port>/public/
    title: str | None = None                # None: "<station.name> 放送の記録"
    command: tuple[str, ...] = ()           # run after each update (e.g. rsync), no shell
    command_timeout: float = 300.0


def _public_url(node) -> str:
    value = _url(node)
    return value if value.endswith("/") else value + "/"


def _command(node) -> tuple[str, ...]:
    """A command line (split like a shell would, but never run by one) or a list."""
    if isinstance(node, ScalarNode):
        try:
            words = shlex.split(text(node))
        except ValueError as exc:
            raise Invalid(f"コマンドの引用符が閉じていません: {exc}") from None
    else:
        words = [text(n) for n in items(node)]
    if not words:
        raise Invalid("コマンドが空です")
    return tuple(words)


def load_publish(root: Section, base: Path, web_host: str, web_port: int,
                 station_name: str) -> PublishConfig:
    keys = [f.name for f in dataclasses.fields(PublishConfig)]
    section = root.section("publish", keys)
    d = PublishConfig()
    host = "127.0.0.1" if web_host in ("0.0.0.0", "::", "") else web_host
    return PublishConfig(
        enabled=section.get("enabled", boolean, d.enabled),
        dir=absolute(base / section.get("dir", relative_path, d.dir)),
        days=section.get("days", integer(1, 60), d.days),
        drills=section.get("drills", boolean, d.drills),
        url=section.get("url", _public_url, None, nullable=True)
        or f"http://{host}:{web_port}/public/",
        title=section.get("title", text, None, nullable=True) or f"{station_name} 放送の記録",
        command=section.get("command", _command, (), nullable=True) or (),
        command_timeout=section.get("command_timeout", number(1, 3600), d.command_timeout),
    )
