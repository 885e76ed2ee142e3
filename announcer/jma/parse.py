"""JMA XML bytes → a ``Message``, or ``Rejected`` with the reason.

Rules: every input is hostile. The parser refuses any DTD (so entity bombs and external
entities never expand and no local file is ever read); the raw size is capped before
parsing and every text taken out of it is capped again afterwards; the root must be a
``Report`` in the JMA namespace with the Control and Head parts; the message type is
recognised from ``Control/Title`` (the name of the message kind), never from a file name.
A kind the station does not handle raises ``Unhandled`` (a ``Rejected`` that is not a
fault). Parsing is linear in the input, and bounded in time: the bytes are fed to the
parser in chunks and the walk over the tree counts its steps, both against a deadline
(``BUDGET`` seconds), so one crafted file costs at most that. Parsing never raises
anything but ``Rejected``.
"""

import datetime as dt
import hashlib
import re
import time
from dataclasses import dataclass, replace

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import XMLParser
from xml.etree.ElementTree import ParseError

from announcer.jma import bodies
from announcer.jma.bodies import when as _time
from announcer.jma.bodies import (AreaWarning, BulletinArea, HeadItem, Kind, Quake,  # noqa: F401
                                  Steps, cap)

MAX_BYTES = 4 * 1024 * 1024  # the largest official sample is 0.55 MB
MAX_TEXT = bodies.MAX_TEXT
BUDGET = 3.0                 # seconds of parsing one message may take
CHUNK = 64 * 1024

NS = "http://xml.kishou.go.jp/jmaxml1/"
HEAD = bodies.HEAD

_R06 = {"大雨": "VPWW55", "土砂": "VPWW56", "土砂災害": "VPWW56", "高潮": "VPWW57",
        "暴風": "VPWW58", "波浪": "VPWW59", "大雪": "VPWW60", "その他注意報": "VPWW61"}
_TYPES = {"気象警報・注意報（Ｈ２７）": "VPWW54", "土砂災害警戒情報": "VXWW50",
          "記録的短時間大雨情報": "VPOA50", "府県気象防災速報": "VPBS50",
          "竜巻注意情報": "VPHW50", "指定河川洪水予報": "VXKOii", "震度速報": "VXSE51",
          "震源に関する情報": "VXSE52", "震源・震度に関する情報": "VXSE53",
          "府県気象情報": "VPFJ50", "噴火警報・予報": "VFVO50",
          "降灰予報（定時）": "VFVO53", "降灰予報（速報）": "VFVO54", "降灰予報（詳細）": "VFVO55",
          "南海トラフ地震臨時情報": "VYSE50", "南海トラフ地震関連解説情報": "VYSE51",
          "津波警報・注意報・予報a": "VTSE41", "津波情報a": "VTSE51"}
TYPES = tuple(sorted(set(_TYPES.values()) | set(_R06.values())))  # every type handled


class Rejected(Exception):
    """A message refused; ``str()`` is the reason for the log."""


class Unhandled(Rejected):
    """A well-formed JMA message of a kind the station does not relay (not a fault)."""


class Overrun(Rejected):
    """Parsing took longer than its time budget."""


@dataclass(frozen=True)
class Message:
    type: str
    control_title: str
    date_time: dt.datetime
    status: str
    editorial_office: str
    title: str
    report_time: dt.datetime | None
    event_id: str
    info_type: str
    serial: str
    headline: str
    publishing_office: str = ""
    valid_time: dt.datetime | None = None   # Head/ValidDateTime (竜巻注意情報 …)
    head_items: tuple = ()                  # HeadItem: Headline/Information items
    warnings: tuple = ()                    # AreaWarning: Body/Warning items, every group
    notice: str = ""                        # Body/Notice (VPWW54 lists 危険警報 there)
    bulletin_areas: tuple = ()              # BulletinArea: observation areas (VPBS50)
    quake: Quake | None = None
    main_text: str = ""                     # VXKOii 主文
    key: str = ""

    @property
    def series(self) -> str:
        return "|".join((self.control_title, self.editorial_office, self.status,
                         self.event_id))

    @property
    def issued_at(self) -> dt.datetime:
        """When JMA issued it (ReportDateTime), else when it was sent."""
        return self.report_time or self.date_time

    @property
    def head_kinds(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(i.kind for i in self.head_items if i.kind))

    @property
    def area_names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(n for i in self.head_items for n in i.names))


def parse(data: bytes, budget: float = BUDGET) -> Message:
    if not isinstance(data, (bytes, bytearray)):
        raise Rejected("not bytes")
    if len(data) > MAX_BYTES:
        raise Rejected(f"too large ({len(data)} bytes > {MAX_BYTES})")
    steps = Steps(time.monotonic() + budget)
    root = _tree(bytes(data), steps)
    try:
        return _message(root, steps)
    except Rejected:
        raise
    except Exception as exc:  # a shape we did not foresee: refuse, never crash
        raise Rejected(f"unexpected message shape ({type(exc).__name__}: {exc})") from None


def _tree(data: bytes, steps: Steps):
    parser = XMLParser(forbid_dtd=True, forbid_entities=True, forbid_external=True)
    try:
        for start in range(0, len(data), CHUNK):
            parser.feed(data[start:start + CHUNK])
            steps.check()
        return parser.close()
    except DefusedXmlException as exc:
        raise Rejected(f"forbidden XML construct ({type(exc).__name__})") from None
    except ParseError as exc:
        raise Rejected(f"not well-formed XML ({exc})") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise Rejected(f"unparsable XML ({type(exc).__name__})") from None
    except TimeoutError:
        raise Overrun(f"parsing took longer than {BUDGET:g} s") from None


def is_incomplete(reason: str) -> bool:
    """A parser error that a file still being written gives (it ended too early)."""
    return "no element found" in reason or "unclosed token" in reason


def _message(root, steps: Steps) -> Message:
    if root.tag != f"{{{NS}}}Report":
        raise Rejected(f"root is {root.tag[:80]!r}, not a JMA Report")
    control, head = root.find(f"{{{NS}}}Control"), root.find(f"{HEAD}Head")
    if control is None or head is None:
        raise Rejected("no Control or Head in the JMA namespaces")
    ctitle = cap(control.findtext(f"{{{NS}}}Title"))
    mtype = message_type(ctitle)
    if mtype is None:
        raise Unhandled(f"message kind {ctitle[:40]!r} is not handled")
    when = _time(cap(control.findtext(f"{{{NS}}}DateTime")))
    if when is None:
        raise Rejected("Control/DateTime missing or invalid")
    status = cap(control.findtext(f"{{{NS}}}Status"))
    info_type = cap(head.findtext(f"{HEAD}InfoType"))
    if status not in ("通常", "訓練", "試験") or info_type not in ("発表", "訂正", "取消"):
        raise Rejected(f"unknown Status {status[:10]!r} or InfoType {info_type[:10]!r}")
    try:
        parts = bodies.read(root, head, steps)
    except TimeoutError:
        raise Overrun(f"reading the message took longer than {BUDGET:g} s") from None
    msg = Message(
        type=mtype, control_title=ctitle, date_time=when, status=status,
        editorial_office=cap(control.findtext(f"{{{NS}}}EditorialOffice")),
        publishing_office=cap(control.findtext(f"{{{NS}}}PublishingOffice")),
        title=cap(head.findtext(f"{HEAD}Title")),
        report_time=_time(cap(head.findtext(f"{HEAD}ReportDateTime"))),
        valid_time=_time(cap(head.findtext(f"{HEAD}ValidDateTime"))),
        event_id=cap(head.findtext(f"{HEAD}EventID")), info_type=info_type,
        serial=cap(head.findtext(f"{HEAD}Serial")),
        headline=cap(head.findtext(f"{HEAD}Headline/{HEAD}Text")), **parts)
    return _with_key(msg)


def message_type(control_title: str) -> str | None:
    if control_title in _TYPES:
        return _TYPES[control_title]
    m = re.fullmatch(r"気象警報・注意報（Ｒ０６）（(.+)）", control_title)
    return _R06.get(m.group(1)) if m else None


def _with_key(msg: Message) -> Message:
    """The message's identity, whatever carried it (feed or inbox)."""
    ident = "|".join((msg.type, msg.date_time.isoformat(), msg.editorial_office, msg.status,
                      msg.title, msg.info_type, msg.event_id, msg.serial))
    return replace(msg, key=hashlib.sha256(ident.encode()).hexdigest()[:20])



