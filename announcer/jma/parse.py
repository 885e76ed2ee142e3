"""JMA XML bytes → a ``Message``, or ``Rejected`` with the reason.

Rules: every input is hostile. The parser refuses any DTD (so entity bombs and external
entities never expand and no local file is ever read); the raw size is capped before
parsing and every text taken out of it is capped again afterwards; the root must be a
``Report`` in the JMA namespace with the Control and Head parts; the message type is
recognised from ``Control/Title`` (the name of the message kind), never from a file name.
Parsing never raises anything but ``Rejected``.
"""

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from xml.etree.ElementTree import ParseError

MAX_BYTES = 4 * 1024 * 1024  # the largest official sample is 0.55 MB
MAX_TEXT = 1200              # characters kept of any one text field
MAX_ITEMS = 5000             # warning items / areas looked at in one message

NS = "http://xml.kishou.go.jp/jmaxml1/"
HEAD = "{http://xml.kishou.go.jp/jmaxml1/informationBasis1/}"
MET = "{http://xml.kishou.go.jp/jmaxml1/body/meteorology1/}"
SEIS = "{http://xml.kishou.go.jp/jmaxml1/body/seismology1/}"
EB = "{http://xml.kishou.go.jp/jmaxml1/elementBasis1/}"

_R06 = {"大雨": "VPWW55", "土砂": "VPWW56", "土砂災害": "VPWW56", "高潮": "VPWW57",
        "暴風": "VPWW58", "波浪": "VPWW59", "大雪": "VPWW60", "その他注意報": "VPWW61"}
_TYPES = {"気象警報・注意報（Ｈ２７）": "VPWW54", "土砂災害警戒情報": "VXWW50",
          "記録的短時間大雨情報": "VPOA50", "府県気象防災速報": "VPBS50",
          "竜巻注意情報": "VPHW50", "指定河川洪水予報": "VXKOii", "震度速報": "VXSE51",
          "震源に関する情報": "VXSE52", "震源・震度に関する情報": "VXSE53"}


class Rejected(Exception):
    """A message refused; ``str()`` is the reason for the log."""


@dataclass(frozen=True)
class Kind:
    name: str
    code: str = ""
    status: str = ""      # 発表 | 継続 | 解除 | なし | …
    last: str = ""        # LastKind/Name: what it replaces or lifts


@dataclass(frozen=True)
class AreaWarning:
    code: str
    name: str
    kinds: tuple[Kind, ...]


@dataclass(frozen=True)
class Quake:
    origin_time: dt.datetime | None
    epicentre: str
    magnitude: str                          # JMA's description, e.g. 「Ｍ６．３」
    areas: dict = field(default_factory=dict)   # intensity area code -> (name, MaxInt)
    cities: dict = field(default_factory=dict)  # 市町村 code -> (name, MaxInt)
    comment: str = ""


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
    head_kinds: tuple[str, ...]            # Headline/Information/Item/Kind/Name
    area_codes: frozenset                  # every Area/Code anywhere in the message
    area_names: tuple[str, ...]            # Head Areas names (rivers, regions …)
    warnings: tuple[AreaWarning, ...] = ()  # Body/Warning items per area
    quake: Quake | None = None
    main_text: str = ""                    # VXKOii 主文
    key: str = ""

    @property
    def series(self) -> str:
        return "|".join((self.control_title, self.editorial_office, self.status,
                         self.event_id))


def parse(data: bytes) -> Message:
    if not isinstance(data, (bytes, bytearray)):
        raise Rejected("not bytes")
    if len(data) > MAX_BYTES:
        raise Rejected(f"too large ({len(data)} bytes > {MAX_BYTES})")
    try:
        root = SafeET.fromstring(bytes(data), forbid_dtd=True, forbid_entities=True,
                                 forbid_external=True)
    except DefusedXmlException as exc:
        raise Rejected(f"forbidden XML construct ({type(exc).__name__})") from None
    except ParseError as exc:
        raise Rejected(f"not well-formed XML ({exc})") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise Rejected(f"unparsable XML ({type(exc).__name__})") from None
    try:
        return _message(root)
    except Rejected:
        raise
    except Exception as exc:  # a shape we did not foresee: refuse, never crash
        raise Rejected(f"unexpected message shape ({type(exc).__name__}: {exc})") from None


def _message(root) -> Message:
    if root.tag != f"{{{NS}}}Report":
        raise Rejected(f"root is {root.tag[:80]!r}, not a JMA Report")
    control, head = root.find(f"{{{NS}}}Control"), root.find(f"{HEAD}Head")
    if control is None or head is None:
        raise Rejected("no Control or Head in the JMA namespaces")
    ctitle = _text(control, f"{{{NS}}}Title")
    mtype = message_type(ctitle)
    if mtype is None:
        raise Rejected(f"message kind {ctitle[:40]!r} is not handled")
    when = _time(_text(control, f"{{{NS}}}DateTime"))
    if when is None:
        raise Rejected("Control/DateTime missing or invalid")
    status = _text(control, f"{{{NS}}}Status")
    info_type = _text(head, f"{HEAD}InfoType")
    if status not in ("通常", "訓練", "試験") or info_type not in ("発表", "訂正", "取消"):
        raise Rejected(f"unknown Status {status[:10]!r} or InfoType {info_type[:10]!r}")
    body = root.find(f"{MET}Body")
    seis = root.find(f"{SEIS}Body")
    msg = Message(
        type=mtype, control_title=ctitle, date_time=when, status=status,
        editorial_office=_text(control, f"{{{NS}}}EditorialOffice"),
        title=_text(head, f"{HEAD}Title"), report_time=_time(_text(head, f"{HEAD}ReportDateTime")),
        event_id=_text(head, f"{HEAD}EventID"), info_type=info_type,
        serial=_text(head, f"{HEAD}Serial"), headline=_text(head, f"{HEAD}Headline/{HEAD}Text"),
        head_kinds=tuple(dict.fromkeys(_cap(k.text) for k in _limited(head.iter(f"{HEAD}Name"))
                                       if _parent_is_kind(head, k))),
        area_codes=frozenset(_cap(e.text) for e in _limited(root.iter())
                             if e.tag.endswith("}Code") and e.text and len(e.text) < 20),
        area_names=tuple(_cap(a.findtext(f"{HEAD}Name")) for a in
                         _limited(head.iter(f"{HEAD}Area"))),
        warnings=_warnings(body) if body is not None else (),
        quake=_quake(seis) if seis is not None else None,
        main_text=_main_text(body) if body is not None else "",
    )
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
    key = hashlib.sha256(ident.encode()).hexdigest()[:20]
    return Message(**{**msg.__dict__, "key": key})


# -- parts --------------------------------------------------------------------------
def _warnings(body) -> tuple[AreaWarning, ...]:
    """Per-area kinds of the finest ``Warning`` list (市町村等 where there is one)."""
    groups = body.findall(f"{MET}Warning")
    fine = [w for w in groups if "市町村等）" in (w.get("type") or "")] or groups
    out = []
    for item in _limited(i for w in fine for i in w.findall(f"{MET}Item")):
        kinds = tuple(Kind(_text(k, f"{MET}Name"), _text(k, f"{MET}Code"),
                           _text(k, f"{MET}Status"), _text(k, f"{MET}LastKind/{MET}Name"))
                      for k in item.findall(f"{MET}Kind") if k.find(f"{MET}Name") is not None)
        for area in item.findall(f"{MET}Area") + item.findall(f"{MET}Areas/{MET}Area"):
            out.append(AreaWarning(_text(area, f"{MET}Code"), _text(area, f"{MET}Name"), kinds))
    return tuple(out)


def _main_text(body) -> str:
    for prop in _limited(body.iter(f"{MET}Property")):
        if _text(prop, f"{MET}Type") == "主文":
            return _text(prop, f"{MET}Text")
    return ""


def _quake(body) -> Quake:
    eq = body.find(f"{SEIS}Earthquake")
    origin = epicentre = magnitude = None
    if eq is not None:
        origin = _time(_text(eq, f"{SEIS}OriginTime"))
        epicentre = _text(eq, f"{SEIS}Hypocenter/{SEIS}Area/{SEIS}Name")
        mag = eq.find(f"{EB}Magnitude")
        magnitude = _cap(mag.get("description")) if mag is not None else ""
    areas, cities = {}, {}
    for pref in _limited(body.iter(f"{SEIS}Pref")):
        for area in pref.findall(f"{SEIS}Area"):
            areas[_text(area, f"{SEIS}Code")] = (_text(area, f"{SEIS}Name"),
                                                 _text(area, f"{SEIS}MaxInt"))
            for city in area.findall(f"{SEIS}City"):
                cities[_text(city, f"{SEIS}Code")] = (_text(city, f"{SEIS}Name"),
                                                      _text(city, f"{SEIS}MaxInt"))
    comment = _text(body, f"{SEIS}Comments/{SEIS}ForecastComment/{SEIS}Text")
    return Quake(origin, epicentre or "", magnitude or "", areas, cities, comment)


# -- small helpers ----------------------------------------------------------------------
def _cap(value) -> str:
    return (value or "").strip()[:MAX_TEXT]


def _text(node, path: str) -> str:
    return _cap(node.findtext(path))


def _limited(iterable):
    for i, x in enumerate(iterable):
        if i >= MAX_ITEMS:
            return
        yield x


def _parent_is_kind(head, name_el) -> bool:
    # ElementTree has no parent pointers; Kind/Name is what Information items carry.
    return any(name_el in list(k) for k in head.iter(f"{HEAD}Kind"))


def _time(value: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)
