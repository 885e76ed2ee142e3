"""The JMA rules in one pure place: ``step(state, message, now, settings) -> Outcome``
(the new state, the actions, a one-word result); ``tick`` and ``approve`` likewise for
time and staff. The service only applies the actions and stores the state; nothing here
reads a clock, touches a file or raises.

Rules (beyond each type's, in ``readers`` and ``standing``):
- **Time.** A message dated more than ``FUTURE`` ahead of the clock is refused (it
  never becomes what is in force). Past its category's age limit (``max_age``; a
  tornado past its ``ValidDateTime``) nothing airs by itself: earthquakes, rain and
  tornado bulletins become ``stale`` (logged); standing information still in force is
  offered to staff as a draft opening 「○時○分発表の情報です」 (up to ``STALE_OFFER``).
- **Drill, test, other areas** never air; drills are listed, other areas are not.
- **Decisions.** ``auto`` items are ``approved`` and air at once (cutting in when the
  reader says so), ``approve`` items are ``pending`` drafts until their category's
  window ends, ``log`` items are ``logged``.
- **Drafts.** A message that changes nothing (継続) never touches a draft. A new draft
  for the same towns replaces an open one and carries forward what the old one said
  that is still in force; a draft whose content stopped being true (lifted, changed,
  superseded by a later serial) expires, and what is still true of it goes on in a new
  draft. With ``unattended_minutes``, a warning draft nobody approved airs after that
  long, without cutting in (never a stale one).
- **取消** withdraws the series' latest message: its drafts and queued airings are
  withdrawn, what aired is withdrawn on air, and what it changed is put back. A 取消
  that withdraws nothing changes nothing.
"""

import datetime as dt
from dataclasses import dataclass, field

from announcer.jma import readers
from announcer.jma import state as st
from announcer.jma.policy import UNATTENDED, strongest

FUTURE = dt.timedelta(minutes=5)
STALE_OFFER = dt.timedelta(hours=6)
MOMENTARY = ("quake_strong", "quake_moderate", "record_rain", "tornado")
WITHDRAWAL_VALID = dt.timedelta(minutes=30)
STATUS_OF = {"auto": "approved", "approve": "pending", "log": "logged"}


@dataclass
class Outcome:
    state: dict
    actions: list = field(default_factory=list)  # ("new", item) ("status", id, status,
    result: str = ""                             # reason, by) ("air", id) ("cancel", id)
    accepted: bool = True                        # False: refused, never recorded


def step(state: dict, msg, now: dt.datetime, s) -> Outcome:
    if msg.date_time > now + FUTURE:
        return Outcome(state, [], f"refused: dated {msg.date_time.isoformat()}, in the future",
                       accepted=False)
    if msg.info_type == "取消":
        return withdraw(state, msg, now)
    if msg.status != "通常":  # read on a copy that is thrown away: a drill changes nothing
        probe = st.clone(state)
        f = readers.read(probe, msg, now, s)
        if not f.relevant:
            return Outcome(state, [], f"ignored: {f.reason}")
        item = _item(msg, now, f, "ignored", f"{msg.status}の電文です（放送しません）")
        item["title"] = f"【{msg.status}】{msg.title}"
        _town_lines(probe, s, item)
        return Outcome(state, [("new", item)], "ignored")
    new = st.clone(state)
    f = readers.read(new, msg, now, s)
    if not f.relevant:
        return Outcome(new, [], f"ignored: {f.reason}")
    if f.older:
        item = _item(msg, now, f, "ignored", f.reason)
        _town_lines(state, s, item)
        return Outcome(state, [("new", item)], "ignored")
    item = _item(msg, now, f, *_status(msg, now, s, f), s)
    actions = [("new", item)]
    _register(new, item, f, now)
    _drafts(new, now, s, item, f, actions)
    _town_lines(new, s, item)
    if f.changes or f.event or f.seen:
        new["series"][msg.series] = {"at": st.iso(msg.date_time), "items": [item["id"]],
                                     "undo": f.undo}
    if item["status"] == "approved":
        actions.append(("air", item["id"]))
    return Outcome(new, actions, item["status"])


def _status(msg, now: dt.datetime, s, f) -> tuple[str, str]:
    if f.decision == "log":
        return "logged", f.reason
    age = now - max(msg.date_time, msg.issued_at)
    past_valid = f.category == "tornado" and f.until is not None and now >= f.until
    if not past_valid and age <= s.max_age(f.category):
        return STATUS_OF[f.decision], f.reason
    minutes = int(age.total_seconds() // 60)
    f.interrupt = f.chime = False
    if f.category in MOMENTARY or past_valid or age > STALE_OFFER or not f.keys:
        why = "有効期限を過ぎた情報です" if past_valid else f"発表から {minutes} 分たった情報です"
        return "stale", f"{why}（放送しません）"
    f.content["stale"] = True
    return "pending", f"発表から {minutes} 分たった情報です（自動では放送しません）"


def _item(msg, now: dt.datetime, f, status: str, reason: str, s=None, n: str = "") -> dict:
    expires = now + (s.window(f.category) if s else dt.timedelta(0))
    if f.category == "tornado" and f.until is not None:
        expires = min(expires, f.until)  # a tornado draft dies with its validity
    return {"id": f"{now:%Y%m%d-%H%M%S}-{msg.key[:6]}{n}", "key": msg.key,
            "series": msg.series, "type": msg.type, "title": msg.title,
            "areas": list(f.towns), "decision": f.decision, "category": f.category,
            "status": status, "reason": reason, "info_type": msg.info_type,
            "msg_status": msg.status, "received_at": now, "expires_at": expires,
            "valid_until": f.until, "interrupt": f.interrupt, "chime": f.chime,
            "keys": dict(f.keys), "changes": list(f.changes), "content": f.content}


def _register(new: dict, item: dict, f, now: dt.datetime) -> None:
    """The item in the state; the keys (and quake) it speaks for are now its."""
    new["items"][item["id"]] = {
        "status": item["status"], "at": st.iso(now), "keys": dict(item["keys"]),
        "until": st.iso(item["valid_until"]), "expires": st.iso(item["expires_at"]),
        "series": item["series"], "title": item["title"], "decision": item["decision"],
        "category": item["category"], "event": f.event, "towns": _towns(item["keys"]),
        "type": item["type"], "changes": list(item["changes"]), "content": item["content"],
        "stale": bool(item["content"].get("stale"))}
    for key in item["keys"]:
        new["keys"][key]["owner"] = item["id"]
    if f.event in new["quakes"] and item["decision"] != "log":
        new["quakes"][f.event]["owner"] = item["id"]
    if f.seen:
        new["seen"][f.seen] = st.iso(now)


def _town_lines(new: dict, s, item: dict) -> None:
    """Warnings and floods say, per town or river section, what changed and what is in
    force after this message (and what a replaced draft still said)."""
    kind = item["content"].get("kind")
    if kind in ("warning", "landslide", "flood"):
        item["content"]["towns"] = readers.town_lines(new, s, item["areas"], item["changes"],
                                                      flood=kind == "flood")
        if item["id"] in new["items"]:
            new["items"][item["id"]]["content"] = item["content"]


def _towns(keys) -> list[str]:
    return sorted({k.rsplit("|", 1)[0] if k.startswith("w|") else k for k in keys})


# -- drafts -------------------------------------------------------------------------
def _drafts(new: dict, now: dt.datetime, s, item: dict, f, actions: list) -> None:
    """Open drafts against what the state says now (see the module's rules)."""
    mine = set(_towns(item["keys"]))
    for did, d in list(new["items"].items()):
        if did == item["id"] or d.get("status") != "pending":
            continue
        if d.get("event"):
            if d["event"] == f.event and item["decision"] != "log":
                _close(new, actions, did, "expired", "新しい情報に置き換わりました")
            continue
        said = d.get("keys") or {}
        valid = {k: lv for k, lv in said.items()
                 if new["keys"].get(k, {}).get("level") == lv
                 and new["keys"][k].get("owner") == did}
        if item["status"] == "pending" and mine & set(d.get("towns", ())):
            _close(new, actions, did, "expired", "新しい発表に置き換わりました")
            _carry_into(new, item, d, valid)
        elif len(valid) < len(said):
            _close(new, actions, did, "expired", "解除・切り替えで内容が変わりました")
            if valid:
                actions.append(("new", _carried(new, now, s, did, d, valid)))


def _close(new: dict, actions: list, item_id: str, status: str, reason: str,
           by: str = "") -> None:
    new["items"][item_id]["status"] = status
    actions.append(("status", item_id, status, reason, by))


def _carry_into(new: dict, item: dict, d: dict, valid: dict) -> None:
    carried = [c for c in d.get("changes", ()) if c["key"] in valid
               and c["key"] not in item["keys"]]
    item["changes"] += carried
    item["keys"].update({c["key"]: c["level"] for c in carried})
    item["areas"] = list(dict.fromkeys(item["areas"] + [c["code"] for c in carried]))
    for c in carried:
        new["keys"][c["key"]]["owner"] = item["id"]
    reg = new["items"][item["id"]]
    reg.update(keys=dict(item["keys"]), changes=list(item["changes"]),
               towns=_towns(item["keys"]))


def _carried(new: dict, now: dt.datetime, s, did: str, d: dict, valid: dict) -> dict:
    """A new draft with what an expired one said that is still true."""
    changes = [c for c in d.get("changes", ()) if c["key"] in valid]
    content = dict(d.get("content") or {}, headline="")
    item_id = f"{now:%Y%m%d-%H%M%S}-{did[-6:]}c"
    item = {"id": item_id, "key": "", "series": d.get("series", ""), "type": d.get("type", ""),
            "title": d.get("title", ""), "areas": list(dict.fromkeys(c["code"] for c in changes)),
            "decision": d.get("decision", "approve"), "category": d.get("category", "other"),
            "status": "pending", "reason": "前の原稿のうち、いまも発表中の内容です",
            "info_type": "発表", "msg_status": "通常", "received_at": now,
            "expires_at": st.when(d.get("expires")), "valid_until": st.when(d.get("until")),
            "interrupt": False, "chime": False, "keys": dict(valid), "changes": changes,
            "content": content}
    new["items"][item_id] = dict(d, status="pending", at=st.iso(now), keys=dict(valid),
                                 changes=changes, content=content, towns=_towns(valid))
    for key in valid:
        new["keys"][key]["owner"] = item_id
    _town_lines(new, s, item)
    return item


# -- 取消 ---------------------------------------------------------------------------
def withdraw(state: dict, msg, now: dt.datetime) -> Outcome:
    series = state["series"].get(msg.series)
    if not series or (st.when(series.get("at")) or now) > msg.date_time:
        return Outcome(state, [], "ignored: nothing to withdraw")
    new, actions = st.clone(state), []
    _undo(new, series.get("undo") or {}, series.get("at"))
    aired, withdrawn = [], 0
    for item_id in series.get("items", ()):
        it = new["items"].get(item_id)
        if it is None:
            continue
        if it["status"] == "aired":
            aired.append(it)
        elif it["status"] in ("pending", "approved"):
            if it["status"] == "approved":
                actions.append(("cancel", item_id))
            _close(new, actions, item_id, "withdrawn", "気象庁が取り消しました")
            withdrawn += 1
        for key in it.get("keys", ()):
            if new["keys"].get(key, {}).get("owner") == item_id:
                new["keys"][key]["owner"] = None
    if not (aired or withdrawn or series.get("undo")):
        return Outcome(state, [], "ignored: nothing to withdraw")
    title = (aired or [new["items"].get(i, {}) for i in series.get("items", ())] or [{}])[-1]
    decision = strongest(a["decision"] for a in aired)
    f = readers.Finding(True, category=aired[-1]["category"] if aired else "other",
                        decision=decision, interrupt=decision == "auto",
                        chime=decision == "auto", until=now + WITHDRAWAL_VALID,
                        content=dict(readers.base_content(msg, "withdrawal"),
                                     title=title.get("title", msg.title)))
    status = STATUS_OF[decision] if aired else "logged"
    item = _item(msg, now, f, status, "" if aired else "放送前に取り消されました")
    item["title"] = f"【取消】{title.get('title', msg.title)}"
    item["expires_at"] = now + WITHDRAWAL_VALID
    _register(new, item, f, now)
    new["series"][msg.series] = {"at": st.iso(msg.date_time), "items": [item["id"]],
                                 "undo": {}}
    actions.insert(0, ("new", item))
    if status == "approved":
        actions.append(("air", item["id"]))
    return Outcome(new, actions, status)


def _undo(new: dict, undo: dict, at: str | None) -> None:
    """Put back what a withdrawn message changed, where nothing later changed it again."""
    for key, before in undo.items():
        if key == "quake":
            continue
        now_entry = new["keys"].get(key)
        if now_entry is not None and now_entry.get("since") != at:
            continue
        if before is None:
            new["keys"].pop(key, None)
        else:
            new["keys"][key] = before


# -- time and staff ---------------------------------------------------------------------
def tick(state: dict, now: dt.datetime, s) -> Outcome:
    """Drafts past their window expire; with ``unattended_minutes``, warning drafts
    nobody approved air (without cutting in); old entries are forgotten."""
    new, actions = st.clone(state), []
    for item_id, it in state["items"].items():
        if it.get("status") != "pending":
            continue
        expires, until = st.when(it.get("expires")), st.when(it.get("until"))
        if expires is not None and now >= expires:
            why = ("有効期限を過ぎました" if until is not None and now >= until
                   else "期限までに承認されませんでした")
            _close(new, actions, item_id, "expired", why)
        elif (s.unattended_minutes and it.get("category") in UNATTENDED
              and not it.get("stale") and now >= (st.when(it.get("at")) or now)
              + dt.timedelta(minutes=s.unattended_minutes)):
            _close(new, actions, item_id, "approved",
                   f"承認されないまま {s.unattended_minutes} 分たったので、割り込まずに放送しました",
                   by="unattended")
            actions.append(("air", item_id))
    return Outcome(st.prune(new, now), actions, "")


def approve(state: dict, item_id: str, now: dt.datetime) -> Outcome:
    it = state["items"].get(item_id)
    if it is None or it.get("status") != "pending":
        return Outcome(state, [], "not pending", accepted=False)
    expires = st.when(it.get("expires"))
    if expires is not None and now >= expires:
        return Outcome(state, [], "expired", accepted=False)
    new = st.clone(state)
    new["items"][item_id]["status"] = "approved"
    return Outcome(new, [("air", item_id)], "approved")


def mark(state: dict, item_id: str, status: str) -> dict:
    """The state after an item's status changed outside the rules (aired, discarded…)."""
    if item_id not in state["items"]:
        return state
    new = st.clone(state)
    new["items"][item_id]["status"] = status
    return new

