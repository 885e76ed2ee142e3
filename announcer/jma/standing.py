"""Standing information — warnings, 土砂災害, river floods, volcanoes — as levels per key.

Rules:
- Only items whose status for a configured code is an issuance count; なし does not.
  Warnings are read from the 市町村等 list only (never a group area that merely contains
  the town), 土砂災害警戒情報 from its own list, floods by river name (``rivers``),
  volcanoes by name (``volcanoes``).
- One key per town and hazard: VPWW54 (H27) and VPWW55–61 (R06) and VXWW50 all speak
  for the same ``w|<town>|<hazard>``, so one warning is announced once whichever form
  comes first. R06 is primary: a hazard an R06 message covered recently is not taken
  from VPWW54; VPWW54's plain 警報 is read at the level its ``Notice`` gives the town
  (〈レベル４大雨危険警報〉真岡市). A VXWW50 lifting is left to VPWW56 where R06 covers
  土砂災害 (VPWW56 says what it becomes).
- Against what is in force: a higher level is an issuance, a lower one a change
  (切り替え), level 0 a lifting; the same level is nothing new (継続). A message older
  than the level in force for a key does not touch that key, and only a change of level
  moves a key's time.
"""

import re
from dataclasses import dataclass

from announcer.jma import state as st
from announcer.jma.policy import classify, plain, unparen

R06_PRIMARY = st.KEEP * 2       # how long an R06 message's hazards stay covered by R06
NOTHING = ("なし", "発表警報・注意報はなし")
# What なし for a town means "nothing in force" for (the hazards of that R06 message).
R06_HAZARDS = {"VPWW55": ("大雨",), "VPWW56": ("土砂災害",), "VPWW57": ("高潮",),
               "VPWW58": ("暴風", "暴風雪"), "VPWW59": ("波浪",), "VPWW60": ("大雪",)}


@dataclass(frozen=True)
class Obs:
    key: str
    town: str          # the place as JMA wrote it (town, river section, volcano)
    code: str
    hazard: str
    level: int         # 0 lifted, -1 "nothing in force" (なし)
    name: str          # JMA's name of the kind (what it is now, or what was lifted)
    changed_from: str = ""   # a …から… status or a LastKind, as JMA wrote it
    continued: bool = False  # JMA says 継続: nothing new since its last message


def observe(msg, s, state: dict) -> list[Obs]:
    if msg.type == "VXWW50":
        return _landslide(msg, s, state)
    if msg.type.startswith("VPWW"):
        return _warnings(msg, s, state)
    if msg.type == "VXKOii":
        return _flood(msg, s)
    if msg.type == "VFVO50":
        return _volcano(msg, s)
    return []


def _local(msg, s, group_ok) -> list:
    by_code = {}
    for w in msg.warnings:
        if w.code in s.areas and group_ok(w.group) and w.code not in by_code:
            by_code[w.code] = w
    return [by_code[c] for c in s.areas if c in by_code]


def _warnings(msg, s, state: dict) -> list[Obs]:
    h27 = msg.type == "VPWW54"
    notice = _notice_levels(msg.notice) if h27 else {}
    out = []
    for w in _local(msg, s, lambda g: g.endswith("（市町村等）")):
        for k in w.kinds:
            if k.status in NOTHING or not k.name or k.name in NOTHING:
                out += [Obs(f"w|{w.code}|{h}", w.name, w.code, h, -1, "")
                        for h in R06_HAZARDS.get(msg.type, ())]
                continue
            hazard, level = classify(k.last if k.status == "解除" and k.last else k.name)
            if level < 0:
                continue
            name = (k.last or k.name) if k.status == "解除" else k.name
            level = 0 if k.status == "解除" else level
            if h27:
                if _r06_covers(state, hazard, msg):
                    continue
                for n, (hz, lv) in notice.get(w.name, {}).items():
                    if hz == hazard and lv > level > 0:
                        name, level = n, lv
            was = k.status.split("から")[0] if "から" in k.status else ""
            out.append(Obs(f"w|{w.code}|{hazard}", w.name, w.code, hazard, level, name, was,
                           k.status == "継続"))
    return _merge(out)


def _only_stale(state: dict, entry: dict | None) -> bool:
    """Whether what is in force for a key was only ever heard in a message too old to
    air: the next message that confirms it says it (a replayed backlog must not make
    the fresh news silent)."""
    owner = (entry or {}).get("owner")
    return bool(owner) and state["items"].get(owner, {}).get("status") == "stale"


def _merge(observations: list[Obs]) -> list[Obs]:
    """One observation per key: the strongest kind of a hazard; a lifting only when
    nothing else of that hazard is in the message (レベル３大雨警報 発表 beside
    レベル２大雨注意報 解除 is one issuance, from the advisory)."""
    out: dict[str, Obs] = {}
    for o in observations:
        had = out.get(o.key)
        if had is None or o.level > had.level:
            lifted = had.name if had is not None and had.level == 0 else ""
            out[o.key] = Obs(o.key, o.town, o.code, o.hazard, o.level, o.name,
                             o.changed_from or lifted, o.continued)
    return list(out.values())


def _r06_covers(state: dict, hazard: str, msg) -> bool:
    seen = st.when(state["r06"].get(hazard))
    return seen is not None and abs(msg.date_time - seen) <= R06_PRIMARY


def note_r06(state: dict, msg) -> None:
    """Remember the hazards an R06 message covered (any town: it covers the kind)."""
    if msg.type.startswith("VPWW") and msg.type != "VPWW54":
        for w in msg.warnings:
            for k in w.kinds:
                hazard, level = classify(k.last or k.name)
                if level >= 0:
                    state["r06"][hazard] = st.iso(msg.date_time)


def _notice_levels(notice: str) -> dict:
    """〈レベル４大雨危険警報〉松江市、… → {town: {kind name: (hazard, level)}}."""
    out: dict = {}
    for m in re.finditer(r"〈([^〉]{1,40})〉([^〈\n]*)", notice or ""):
        hazard, level = classify(m.group(1))
        for town in re.split(r"[、，,\s]+", m.group(2)):
            town = town.strip("＊* ")
            if town and level > 0:
                out.setdefault(town, {})[m.group(1)] = (hazard, level)
    return out


def _landslide(msg, s, state: dict) -> list[Obs]:
    i = msg.title.find("レベル")
    name = msg.title[i:] if i >= 0 else "土砂災害警戒情報"
    out = []
    for w in _local(msg, s, lambda g: True):
        for k in w.kinds:
            key = f"w|{w.code}|土砂災害"
            if k.status in ("発表", "継続"):
                out.append(Obs(key, w.name, w.code, "土砂災害", 4, name,
                               continued=k.status == "継続"))
            elif k.status == "解除" and not _r06_covers(state, "土砂災害", msg):
                out.append(Obs(key, w.name, w.code, "土砂災害", 0, name))
    return out


def _flood(msg, s) -> list[Obs]:
    kind = msg.head_kinds[0] if msg.head_kinds else msg.title
    hazard, level = classify(kind)
    if level < 0:
        return []
    out = []
    for item in msg.head_items:
        if "予報区域" not in item.info:
            continue
        for code, name in zip(item.codes, item.names):
            if any(r and r in name for r in s.rivers) or code in s.areas:
                out.append(Obs(f"f|{code}", name, code, "氾濫", level,
                               unparen(kind[:-2] if level == 0 else kind)))
    return list({o.key: o for o in out}.values())


def _volcano(msg, s) -> list[Obs]:
    out = []
    for item in msg.head_items:
        if "対象火山" not in item.info:
            continue
        for code, name in zip(item.codes, item.names):
            if plain(name) in s.volcanoes:
                out.append(Obs(f"v|{plain(name)}", unparen(name), code, "噴火", _volcano_level(
                    item.kind, msg.title), item.kind, item.last))
    return out


def _volcano_level(kind: str, title: str) -> int:
    m = re.search(r"レベル([1-5])", plain(kind))
    if m:
        return int(m.group(1))
    return 3 if "噴火警報" in title and "解除" not in title else 1


def apply(state: dict, msg, observations: list[Obs]) -> tuple[list[dict], int]:
    """Apply ``observations`` to ``state["keys"]``; returns (changes, how many were
    older than what is in force). A change is a dict: key, town, code, hazard, what
    (issued | changed | lifted | cleared), name, old (JMA's previous name), level, was."""
    changes, older = [], 0
    t = msg.date_time
    for o in observations:
        entry = state["keys"].get(o.key)
        since = st.when(entry.get("since")) if entry else None
        if since is not None and t < since:
            older += 1
            continue
        was = entry.get("level", 0) if entry else 0
        level = max(o.level, 0)
        if o.level < 0 and was == 0:
            continue
        if o.continued and entry is None:  # in force before we listened: noted, not news
            state["keys"][o.key] = {"level": level, "name": o.name, "town": o.town,
                                    "since": st.iso(t), "owner": None}
            continue
        if level == was and not (level > 0 and _only_stale(state, entry)):
            if entry and level > 0 and msg.type != "VPWW54":  # R06 names beat H27 ones
                entry["name"] = o.name
            continue
        what = ("issued" if level >= was else "lifted" if level == 0 else "changed")
        if o.level < 0:
            what = "cleared"  # なし where something was in force: JMA lost a 解除 on us
        old = entry.get("name", "") if entry else o.changed_from
        state["keys"][o.key] = {"level": level, "name": o.name if level else "", "town": o.town,
                                "since": st.iso(t), "owner": entry.get("owner") if entry else None}
        changes.append({"key": o.key, "town": o.town, "code": o.code, "hazard": o.hazard,
                        "what": what, "name": o.name, "old": old, "level": level, "was": was})
    return changes, older
