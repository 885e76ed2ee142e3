"""After a (re)start: decide from what happened, not from what one row says.

Rules (the as-run record, waiting journal entries included, is read first):
- For every notice airing of the last hours, its *latest* row tells whether it is done.
  It is not done when that row is ``interrupted`` (cut by a crash, a stop or an
  emergency) or ``missed``/``stopped``, and no "too late" was decided for it yet: it is
  replayed from the start within its grace (detail ``<cause>; replay queued``, which
  becomes ``replayed from start`` only when the replay starts), else the row says
  ``<cause>; skipped (too late)``. A replay that did not start before the next restart
  is queued again within grace, or its row says so (``replay did not start``).
- A row cut by a crash (no end) gets an end: the last heartbeat, at most a second
  before the crash. One whose every word had gone out (``all words aired``: only its
  tail silence was left) is ``aired`` and is not aired again.
- Every airing due since the last heartbeat (less the longest grace) with no row airs
  late within grace, one late airing per notice (the earlier ones are ``missed``,
  ``superseded by a later airing``), or is logged ``missed`` saying why: the daemon was
  not running, it stopped before the airing started, or it was still starting.
- A bulletin (or relay) cut by a crash airs again from the start while it is open, its
  row saying ``cut by a restart; replay queued``; one whose words had all gone out
  (``all words aired``: only its closing chime or silence was cut) is ``aired``.
"""

import datetime as dt
import logging

from announcer.notices import schedule
from announcer.record.store import OPEN_STATES, SPOKEN, STOPPED, iso
from announcer.station.bulletins import BULLETIN_KINDS

log = logging.getLogger(__name__)
LOOKBACK = dt.timedelta(hours=1)  # beyond the longest grace: older rows are history
EMERGENCY_CUT = "cut by an emergency"
CRASH_CUT = "cut by a restart"
QUEUED = "replay queued"
TOO_LATE = "skipped (too late)"


def recover(desk, started_at: dt.datetime | None = None) -> None:
    now = desk.clock.now()
    last_text = desk.store.get_state("last_alive")
    last = dt.datetime.fromisoformat(last_text) if last_text else None
    notices = desk.notices.notices
    longest = max((n.grace for n in notices.values()), default=dt.timedelta(0))
    floor = iso((min(now, last or now) - longest - LOOKBACK).astimezone(desk.tz))
    rows = desk.store.airings("kind='notice' AND scheduled_at >= ?", (floor,),
                              keep=lambda r: r["kind"] == "notice" and
                              (r["scheduled_at"] or "") >= floor)
    latest = {}
    for row in rows:  # oldest first: the last one wins
        latest[(row["id"], row["scheduled_at"])] = row
    for row in latest.values():
        if row["detail"] == SPOKEN and row["ended_at"] is None:
            _end_spoken(desk, row, now, last)
        elif unsettled(row):
            _resolve(desk, row, now, last)
    since = last - longest if last else (started_at or now)
    air_now, missed = schedule.classify_missed(notices.values(), since, now, tz=desk.tz)
    for a in missed:
        if (a.notice_id, iso(a.at)) not in latest:
            why = _why_missed(a, notices[a.notice_id], now, last)
            log.warning("Missed notice %s of %s (%s)", a.notice_id, a.at, why)
            desk.store.airing_record("notice", a.notice_id, notices[a.notice_id].title, a.at,
                                     "missed", why, at=now)
    for a in air_now:
        if (a.notice_id, iso(a.at)) not in latest:
            log.warning("Airing notice %s of %s late (%s)", a.notice_id, a.at,
                        "daemon was not running" if last else "due while it was starting")
            desk.cue(notices[a.notice_id], a.at, a.order)


def unsettled(row: dict) -> bool:
    """Whether a notice's latest row leaves it to be aired (again)."""
    detail = row["detail"] or ""
    if "too late" in detail:
        return False
    if row["status"] == "interrupted":
        return True
    return row["status"] == "missed" and detail.startswith(STOPPED)


def cause_of(row: dict) -> str:
    detail = row["detail"] or ""
    for cause in (STOPPED, EMERGENCY_CUT, CRASH_CUT):
        if detail.startswith(cause):
            return cause
    return EMERGENCY_CUT if row["ended_at"] and row["status"] == "interrupted" else CRASH_CUT


def _resolve(desk, row: dict, now: dt.datetime, last: dt.datetime | None) -> None:
    notice = desk.notices.notices.get(row["id"])
    at = dt.datetime.fromisoformat(row["scheduled_at"])
    cause = cause_of(row)
    again = QUEUED in (row["detail"] or "")
    if notice and (at > now or now - at <= notice.grace):
        detail = f"{cause}; {QUEUED}"
        desk.replays[("notice", notice.id, at)] = (row["ref"], cause)
        log.warning("Notice %s of %s was %s%s: replaying it from the start", notice.id, at,
                    cause, " and its replay did not start before the restart" if again else "")
        desk.cue(notice, at, desk.order_of(notice.id))
    else:
        detail = f"{cause}; " + ("replay did not start; " if again else "") + TOO_LATE
        log.warning("Notice %s of %s was %s: too late to replay", row["id"], at, cause)
    if row["ended_at"] is None:  # cut by a crash: it ended at the last sign of life
        times = [t for t in (last, _time(row["started_at"])) if t is not None]
        desk.store.airing_ended(row["ref"], row["status"], max(times) if times else now,
                                detail)
    else:
        desk.store.mark_resolved(row["ref"], detail)


def _end_spoken(desk, row: dict, now: dt.datetime, last: dt.datetime | None) -> None:
    """Cut by a crash when only its tail silence was left: every word went out."""
    log.warning("Notice %s of %s had aired every word when the daemon stopped: aired",
                row["id"], row["scheduled_at"])
    desk.store.airing_ended(row["ref"], "aired", _crash_end(row, last, now), "")


def _crash_end(row: dict, last: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    """When an airing cut by a crash ended: the last heartbeat (at most a second before
    the crash), never before the airing started."""
    times = [t for t in (last, _time(row["started_at"])) if t is not None]
    return max(times) if times else now


def _why_missed(airing, notice, now: dt.datetime, last: dt.datetime | None) -> str:
    if now - airing.at <= notice.grace:
        return "superseded by a later airing"
    if last is None:
        return "due while the daemon was starting"
    if airing.at > last:
        return "daemon was not running"
    return "daemon stopped before it aired"


def _time(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


def end_cut_bulletins(record, store, clock, replays: dict) -> None:
    """Rows of bulletins cut by a crash (no end) or a stop: a crash-cut row ends at the
    last heartbeat; a bulletin still open airs again from the start, and its row says
    ``replay queued`` until that airing starts (then ``replayed from start``)."""
    kinds = ",".join(f"'{k}'" for k in BULLETIN_KINDS)
    cut = record.airings(
        f"kind IN ({kinds}) AND status='interrupted' AND (ended_at IS NULL OR "
        f"detail='{STOPPED}' OR detail LIKE '%replay queued')",
        keep=lambda r: r["kind"] in BULLETIN_KINDS and r["status"] == "interrupted" and (
            r["ended_at"] is None or r["detail"] == STOPPED or
            r["detail"].endswith("replay queued")))
    last = store.get_state("last_alive")
    for row in cut:
        if row["detail"] == SPOKEN and row["ended_at"] is None:
            _end_spoken_bulletin(record, clock, row, last)
            continue
        b = record.bulletin(row["id"])
        reopen = b is not None and b["state"] in ("queued", "on_air")
        cause = STOPPED if row["detail"].startswith(STOPPED) else "cut by a restart"
        detail = f"{cause}; replay queued" if reopen else cause
        if reopen:
            replays[(row["kind"], row["id"], None)] = (row["ref"], cause)
        if row["ended_at"] is None:
            # it ended at the crash: at the last heartbeat (at most a second before)
            ended = _crash_end(row, _time(last), clock.now())
            record.airing_ended(row["ref"], "interrupted", ended, detail)
            log.warning("%s %s was cut by a crash; its row ends at the last heartbeat, "
                        "%s", row["kind"], row["id"], ended.isoformat())
        elif reopen and detail != row["detail"]:
            record.mark_resolved(row["ref"], detail)


def _end_spoken_bulletin(record, clock, row: dict, last: str | None) -> None:
    """Every word had gone out when the crash came (its closing chime or silence
    was cut): ``aired``, ended at the last heartbeat, and not aired again."""
    ended = _crash_end(row, _time(last), clock.now())
    with record.together():
        record.airing_ended(row["ref"], "aired", ended, "")
        b = record.bulletin(row["id"])
        if b is not None and b["state"] in OPEN_STATES:
            record.set_bulletin_state(row["id"], "aired", ended)
    log.warning("%s %s: every word had aired before the crash; aired, not again",
                row["kind"], row["id"])
