"""What the JMA rules remember between messages: one JSON-able value, stored whole.

``State`` is plain data (dicts of strings, numbers and lists) so that ``rules`` can
copy it, change the copy and hand it back, and ``store`` can write it in the same
transaction as the message key and the items. Its parts:

- ``keys``: what is in force, per key — ``w|<town code>|<hazard>`` (warnings, 土砂災害),
  ``f|<river area code>`` (指定河川洪水予報), ``v|<volcano>`` — each
  ``{"level", "name", "town", "since", "owner"}``: the level (0 once lifted), JMA's name,
  the place as JMA wrote it, the ``DateTime`` of the message that set this level (only a
  message that changes the level moves it), and the item that last said it on air or in
  a draft.
- ``quakes``: per ``EventID``: ``{"first", "detail", "local", "tsunami", "serial", "at"}``.
- ``seen``: one-off bulletins already handled (a record-rain observation, a tornado
  message), key → when.
- ``r06``: hazard → when an R06 (VPWW55–61) message last covered it; while it does,
  VPWW54 is not used for that hazard.
- ``items``: the items the rules still reason about (open ones, and what aired in the
  last two days): status, the keys and levels they speak for, validity, series, and for
  drafts what they said (so a later message can carry it forward).
- ``series``: per series, the latest message's time, its items and what it changed
  (``undo``), so that a 取消 can withdraw it and put back what was in force before.
"""

import copy
import datetime as dt

KEEP = dt.timedelta(days=2)   # lifted keys, old quakes, closed items are forgotten after
PARTS = ("keys", "quakes", "seen", "r06", "items", "series")


def empty() -> dict:
    return {p: {} for p in PARTS}


def load(data: dict | None) -> dict:
    """A state from stored JSON (anything unexpected starts empty rather than fails)."""
    if not isinstance(data, dict):
        return empty()
    return {p: data[p] if isinstance(data.get(p), dict) else {} for p in PARTS}


def clone(state: dict) -> dict:
    return copy.deepcopy(state)


def iso(t: dt.datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def when(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def prune(state: dict, now: dt.datetime) -> dict:
    """Forget what cannot matter any more (lifted keys, events, closed items older than
    ``KEEP``); open items and keys in force stay whatever their age."""
    old = now - KEEP
    keys = {k: e for k, e in state["keys"].items()
            if e.get("level", 0) > 0 or (when(e.get("since")) or now) >= old}
    items = {i: it for i, it in state["items"].items()
             if it.get("status") in ("pending", "approved") or (when(it.get("at")) or now) >= old}
    return dict(
        state, keys=keys, items=items,
        quakes={e: q for e, q in state["quakes"].items() if (when(q.get("at")) or now) >= old},
        seen={k: t for k, t in state["seen"].items() if (when(t) or now) >= old},
        series={s: v for s, v in state["series"].items() if (when(v.get("at")) or now) >= old},
        r06={h: t for h, t in state["r06"].items() if (when(t) or now) >= now - 4 * KEEP})


def in_force(state: dict, item_id: str, now: dt.datetime) -> bool:
    """Whether an item that aired (or is queued) still speaks for what is in force now:
    not lifted, withdrawn or superseded, and inside its validity."""
    it = state["items"].get(item_id)
    if not it or it.get("status") not in ("approved", "aired"):
        return False
    until = when(it.get("until"))
    if until is not None and now >= until:
        return False
    event = state["quakes"].get(it.get("event") or "")
    if event is not None and event.get("owner") != item_id:
        return False  # a later serial of the same earthquake said more
    said = it.get("keys") or {}
    if not said:
        return True
    return any(state["keys"].get(k, {}).get("owner") == item_id
               and state["keys"][k].get("level") == level for k, level in said.items())
