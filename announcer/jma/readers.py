"""What one message means for the station, type by type: a ``Finding``.

Each reader takes the (copied) state, the message, the time and the settings; it
updates the state for what the message says and returns what the station should make
of it: whether it concerns us, its category and decision, whether it cuts in, the keys
it speaks for and the content the spoken text is built from. Readers never look at
drafts or items (``rules`` does), never read a clock and never raise.

Rules per type (the README lists them for staff):
- warnings, 土砂災害, floods, volcanoes: ``standing`` (levels per key); a change is
  decided one step below what it replaces, a lifting too, and neither cuts in.
- earthquakes, per ``EventID``: 震度速報 once; the first 震源・震度情報 once as the
  follow-up (it cuts in only if nothing was said before); later serials only when the
  local intensity rose or a tsunami comment appeared.
- 記録的短時間大雨情報 (VPOA50) and 気象防災速報 (VPBS50): one observation once, whichever
  comes first; 竜巻注意情報 valid until its ``ValidDateTime``.
- 府県気象情報 from the local office, 噴火警報・予報 for ``volcanoes``: drafts.
- 降灰予報, 南海トラフ, 津波: logged.
"""

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field

from announcer.jma import standing
from announcer.jma import state as st
from announcer.jma.policy import (INTENSITIES, RANK, intensity_rank, level_category, lower,
                                  plain, quake_category)

EVENT_VALID = dt.timedelta(minutes=60)   # a quake or rain item is news for an hour


@dataclass
class Finding:
    relevant: bool
    reason: str = ""
    category: str = "other"
    decision: str = "log"
    interrupt: bool = False
    chime: bool = False
    keys: dict = field(default_factory=dict)     # key -> level this item says
    changes: list = field(default_factory=list)  # standing changes said (for drafts)
    towns: tuple = ()                             # town / river / volcano codes concerned
    content: dict = field(default_factory=dict)
    until: dt.datetime | None = None
    event: str = ""                               # quake EventID or bulletin key
    older: bool = False                           # older than what is in force
    undo: dict = field(default_factory=dict)      # what a 取消 of this message restores
    seen: str = ""                                # one-off key to remember (rain, tornado)


NOT_OURS = Finding(False, "対象地域外")


def read(state: dict, msg, now: dt.datetime, s) -> Finding:
    if msg.type in ("VXSE51", "VXSE52", "VXSE53"):
        return quake(state, msg, s)
    if msg.type in ("VPOA50", "VPBS50", "VPHW50"):
        return bulletin(state, msg, s)
    if msg.type == "VPFJ50":
        return info(state, msg, s)
    if msg.type.startswith(("VYSE", "VTSE", "VFVO5")) and msg.type != "VFVO50":
        return logged_only(msg, s)
    return standing_finding(state, msg, s)


def base_content(msg, kind: str) -> dict:
    return {"kind": kind, "time": st.iso(msg.issued_at), "issuer": msg.publishing_office,
            "correction": msg.info_type == "訂正", "title": msg.title,
            "headline": msg.headline}


# -- standing -------------------------------------------------------------------------
def standing_finding(state: dict, msg, s) -> Finding:
    observations = standing.observe(msg, s, state)
    standing.note_r06(state, msg)
    if not observations:
        return NOT_OURS
    before = {o.key: dict(state["keys"][o.key]) if o.key in state["keys"] else None
              for o in observations}
    changes, older = standing.apply(state, msg, observations)
    towns = tuple(dict.fromkeys(o.code for o in observations))
    kind = {"VXKOii": "flood", "VFVO50": "volcano", "VXWW50": "landslide"}.get(msg.type,
                                                                               "warning")
    f = Finding(True, towns=towns, content=base_content(msg, kind),
                undo={c["key"]: before[c["key"]] for c in changes})
    said = [c for c in changes if c["what"] != "cleared"]
    if not said:
        f.older = bool(older) and not changes
        f.reason = "発表中の情報より古い電文です" if f.older else "継続・変化なし"
        return f
    decided = [(_decide(c, msg, s), c) for c in said]
    f.decision, f.category = max(((d, cat) for (d, cat), _ in decided),
                                 key=lambda dc: RANK[dc[0]])
    f.interrupt = any(d == "auto" and c["what"] == "issued" for (d, _), c in decided)
    f.chime = any(c["what"] == "issued" for c in said)  # changes and liftings: no chime
    f.changes = said
    f.keys = {c["key"]: c["level"] for c in said}
    return f


def _decide(change: dict, msg, s) -> tuple[str, str]:
    if msg.type == "VFVO50":
        d = s.decision("volcano")
        return (d if change["what"] == "issued" else lower(d)), "volcano"
    if change["what"] == "issued":
        category = level_category(change["level"])
        return s.decision(category), category
    category = level_category(change["was"])
    return lower(s.decision(category)), category


def town_lines(state: dict, s, codes, changes: list, flood: bool = False) -> list[dict]:
    """Per town (``areas`` order first) or river section: what changed, what is in force."""
    out = []
    order = [c for c in s.areas if c in codes] + [c for c in codes if c not in s.areas]
    changed = {c["code"] for c in changes}
    order = [c for c in order if c in changed] + [c for c in order if c not in changed]
    for code in order:
        mine = [c for c in changes if c["code"] == code]
        prefix = f"f|{code}" if flood else f"w|{code}|"
        entries = [e for k, e in state["keys"].items()
                   if (k == prefix if flood else k.startswith(prefix))]
        now = sorted(((e["name"], e["level"]) for e in entries if e.get("level", 0) > 0),
                     key=lambda f: -f[1])
        name = next((c["town"] for c in mine), "") or next(
            (e.get("town", "") for e in entries), "")
        ended = any(c["was"] >= 3 for c in mine if c["what"] in ("lifted", "changed"))
        out.append({
            "code": code, "name": name,
            "issued": [c["name"] for c in mine if c["what"] == "issued"],
            "changed": [[c["old"], c["name"]] for c in mine if c["what"] == "changed"],
            "lifted": [c["old"] or c["name"] for c in mine if c["what"] == "lifted"],
            "now": [n for n, _ in now],
            "all_lifted": not flood and ended and not any(lv >= 3 for _, lv in now)})
    return out


# -- earthquakes ---------------------------------------------------------------------
def quake(state: dict, msg, s) -> Finding:
    q, eid = msg.quake, msg.event_id
    ev = state["quakes"].get(eid)
    if msg.type == "VXSE52" or q is None:
        return Finding(True, "震源の情報（放送しません）") if ev else NOT_OURS
    local = [(n, m) for c, (n, m) in q.cities.items() if c in s.areas]
    local += [(n, m) for c, (n, m) in q.areas.items() if c in s.quake_areas]
    local = sorted(((n, m) for n, m in local if intensity_rank(m) >= 0),
                   key=lambda f: -intensity_rank(f[1]))
    if not local:
        return NOT_OURS
    top = intensity_rank(local[0][1])
    category = quake_category(local[0][1])
    decision = s.decision(category)
    content = dict(base_content(msg, "quake" if msg.type == "VXSE53" and q.epicentre
                                else "quake_flash"),
                   intensities=local[:4], origin=st.iso(q.origin_time), epicentre=q.epicentre,
                   magnitude=q.magnitude, depth=q.depth, max_int=q.max_int,
                   comment=q.comment)
    f = Finding(True, category=category, decision=decision, content=content, event=eid,
                towns=tuple(dict.fromkeys(n for n, _ in local)),
                until=msg.issued_at + EVENT_VALID, undo={"quake": dict(ev) if ev else None})
    serial = _int(msg.serial)
    ev = dict(ev or {"first": False, "detail": False, "local": -1, "tsunami": False,
                     "serial": 0, "owner": None})
    said_before = ev["first"] or ev["detail"]
    if msg.type == "VXSE51" and said_before:
        f.decision, f.reason = "log", "この地震はお伝えしました"
    elif msg.type == "VXSE53" and ev["detail"] and serial <= ev["serial"] \
            and msg.info_type != "訂正":
        f.decision, f.reason, f.older = "log", "発表中の情報より古い電文です", True
        return f
    elif msg.type == "VXSE53" and ev["detail"] and not (
            top > ev["local"] or (q.tsunami and not ev["tsunami"])):
        f.decision, f.reason = "log", "地元の震度に変化はありません"
    was = quake_category(_intensity(ev["local"])) if said_before else ""
    if f.decision != "log":
        f.interrupt = decision == "auto" and (
            not said_before or RANK[s.decision(was)] < RANK["auto"])
        f.chime = not said_before or f.interrupt
    ev.update(local=max(ev["local"], top), tsunami=ev["tsunami"] or q.tsunami,
              serial=max(ev["serial"], serial), at=st.iso(msg.date_time))
    if f.decision != "log":
        ev["first" if msg.type == "VXSE51" else "detail"] = True
    state["quakes"][eid] = ev
    return f


def _intensity(rank: int) -> str:
    return INTENSITIES[rank] if 0 <= rank < len(INTENSITIES) else ""


def _int(value: str) -> int:
    value = unicodedata.normalize("NFKC", value or "")
    return int(value) if value.isdigit() and len(value) < 6 else 0


# -- one-off bulletins -----------------------------------------------------------------
def bulletin(state: dict, msg, s) -> Finding:
    wide = s.bulletin_areas
    local = [w for w in msg.warnings if w.code in wide
             and any(k.status == "発表" for k in w.kinds)]
    tags = [i for i in msg.head_items if i.condition and set(i.codes) & wide]
    near = [a for a in msg.bulletin_areas if a.code in s.areas]
    if not (local or (msg.type == "VPBS50" and (tags or near))):
        return NOT_OURS
    tag = " ".join(i.condition for i in tags) + msg.title
    if msg.type == "VPHW50" or "竜巻" in tag:
        category, hazard = "tornado", "竜巻"
    elif msg.type == "VPOA50" or "記録" in tag or "線状" in tag:
        category, hazard = "record_rain", "線状" if "線状" in tag else "記録雨"
    else:
        category, hazard = "weather_info", plain(tag)[:20]
    seen = f"b|{hazard}|{_observed(msg)}"
    until = msg.valid_time if category == "tornado" and msg.valid_time else (
        msg.issued_at + EVENT_VALID)
    content = dict(base_content(msg, "bulletin"),
                   valid=st.iso(msg.valid_time) if category == "tornado" else None)
    f = Finding(True, category=category, decision=s.decision(category), content=content,
                until=until, seen=seen, towns=tuple(w.code for w in local) or tuple(wide))
    if seen in state["seen"]:
        f.decision, f.reason, f.seen = "log", "同じ観測をお伝えしました", ""
        return f
    f.interrupt, f.chime = f.decision == "auto", True
    return f


def _observed(msg) -> str:
    """The observation a rain bulletin reports (「１９時４０分」 of its headline), so that
    VPOA50 and VPBS50 of one observation are one; else its own time (tornado: per event)."""
    if msg.type == "VPHW50" or "竜巻" in msg.title:
        return msg.event_id or st.iso(msg.issued_at)
    m = re.search(r"(\d{1,2})時(\d{1,2})分", unicodedata.normalize("NFKC", msg.headline))
    return f"{int(m.group(1))}:{int(m.group(2)):02d}" if m else st.iso(msg.issued_at)


def info(state: dict, msg, s) -> Finding:
    if msg.editorial_office not in s.offices:
        return NOT_OURS
    key = f"i|{msg.event_id or msg.title}"
    since = st.when(state["seen"].get(key))
    f = Finding(True, category="weather_info", decision=s.decision("weather_info"),
                content=base_content(msg, "info"), event=key, seen=key,
                until=msg.issued_at + s.window("weather_info"))
    if since is not None and msg.date_time < since:
        f.older, f.decision, f.reason, f.seen = True, "log", "発表中の情報より古い電文です", ""
    return f


def logged_only(msg, s) -> Finding:
    if msg.type.startswith("VFVO"):  # 降灰予報: only for our towns or volcanoes
        codes = {c for i in msg.head_items for c in i.codes}
        names = {plain(n) for i in msg.head_items for n in i.names}
        if not (codes & set(s.areas) or names & set(s.volcanoes)
                or any(v in msg.title for v in s.volcanoes)):
            return NOT_OURS
    return Finding(True, "記録のみの情報です", content=base_content(msg, "info"))
