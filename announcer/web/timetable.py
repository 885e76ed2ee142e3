"""The week's timetable with today's rundown, and the as-run log as CSV.

The timetable shows every notice in effect on each day of a week (paused ones and the
holidays a notice skips too, marked as such); the rundown puts what aired today (the
as-run log) and what is still to come in one list. The CSV export of a day or a month
is made for Excel: UTF-8 with a BOM, and no cell that Excel would take for a formula.
"""

import dataclasses
import datetime as dt
import re

import jpholiday
from flask import Blueprint, Response, current_app, g, render_template, request

from announcer.notices import schedule
from announcer.record.airlog_csv import KIND_LABELS, STATUS_LABELS, airlog_csv_text, detail_words
from announcer.notices.editing import NoticeFileError
from announcer.web.auth import login_required
from announcer.web.board import station_view
from announcer.web.notice_labels import colour_of, month_day

bp = Blueprint("timetable", __name__)

_MONTH = re.compile(r"(\d{4})-(\d{2})")


def _services():
    return current_app.extensions["announcer"]


def _tz():
    return _services().config.station.timezone


# -- the week's timetable and today's rundown ---------------------------------------
def day_state(notice, day: dt.date) -> str | None:
    """"airs", "paused" (would air), "skipped" (a holiday it skips), or None."""
    if schedule.airs_on(notice, day):
        return "airs"
    enabled = dataclasses.replace(notice, enabled=True)
    if not notice.enabled and schedule.airs_on(enabled, day):
        return "paused"
    if notice.holidays == "skip" and schedule.airs_on(
            dataclasses.replace(enabled, holidays="any"), day):
        return "skipped"
    return None


def week_grid(notices, days: list[dt.date]) -> list[dict]:
    """Rows by hour (only hours with something), one cell per day, entries by time."""
    cells: dict[int, list[list[dict]]] = {}
    for col, day in enumerate(days):
        for notice in notices:
            state = day_state(notice, day)
            for t in notice.times if state else ():
                cells.setdefault(t.hour, [[] for _ in days])[col].append(
                    {"at": t, "time": t.strftime("%H:%M"), "notice": notice, "state": state,
                     "colour": colour_of(notice.id)})
    for row in cells.values():
        for cell in row:
            cell.sort(key=lambda e: e["at"])
    return [{"hour": h, "cells": cells[h]} for h in sorted(cells)]


def week_days(first: dt.date, today: dt.date) -> list[dict]:
    days = []
    for n in range(7):
        day = first + dt.timedelta(days=n)
        holiday = jpholiday.is_holiday_name(day)
        kind = "holiday" if holiday else {5: "sat", 6: "sun"}.get(day.weekday(), "weekday")
        days.append({"date": day, "label": month_day(day), "holiday": holiday, "kind": kind,
                     "today": day == today})
    return days


def _week_start(raw: str | None, today: dt.date) -> tuple[dt.date, str]:
    if not raw:
        return today, ""
    try:
        first = dt.date.fromisoformat(raw[:10])
    except ValueError:
        return today, "日付は YYYY-MM-DD で指定してください"
    if not 2000 <= first.year <= 2999:  # a week past 9999-12-31 does not exist
        return today, "日付は 2000 年から 2999 年までで指定してください"
    return first, ""


def rundown(now: dt.datetime) -> list[dict]:
    """Today: what aired (as-run log) and what is still to come, in time order."""
    view = station_view()
    rows = []
    for r in view.airlog(now.date()):
        at = r["started_at"] or r["scheduled_at"] or r["ended_at"]
        status = r["status"]
        local = dt.datetime.fromisoformat(at).astimezone(_tz())
        rows.append({"at": local, "time": local.strftime("%H:%M:%S"),
                     "kind": KIND_LABELS.get(r["kind"], r["kind"]), "title": r["title"],
                     "status": status, "label": STATUS_LABELS.get(status, status),
                     "detail": detail_words(r["detail"])})
    midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), now.tzinfo)
    for i, (at, notice) in enumerate(view.upcoming((midnight - now).total_seconds() / 3600,
                                                   now)):
        rows.append({"at": at, "time": at.strftime("%H:%M:%S"), "kind": KIND_LABELS["notice"],
                     "title": notice.title, "status": "next" if i == 0 else "planned",
                     "label": "次に放送" if i == 0 else "予定", "detail": ""})
    rows.sort(key=lambda r: r["at"])
    return rows


@bp.get("/timetable")
@login_required()
def index():
    now = _services().clock.now()
    first, error = _week_start(request.args.get("start"), now.date())
    days = week_days(first, now.date())
    notices = station_view().notices()
    grid = week_grid(notices, [d["date"] for d in days])
    shown = {e["notice"].id for row in grid for cell in row["cells"] for e in cell}
    legend = [{"notice": n, "colour": colour_of(n.id)} for n in notices if n.id in shown]
    return render_template("timetable.html", days=days, grid=grid, legend=legend, error=error,
                           first=first, prev=first - dt.timedelta(days=7),
                           next=first + dt.timedelta(days=7), today=now.date(),
                           month=now.strftime("%Y-%m"), rundown=rundown(now),
                           now=now.strftime("%H:%M")), 400 if error else 200


# -- the as-run log as CSV ------------------------------------------------------------
def _export_range() -> tuple[str, dict]:
    """(file name part, Store.airlog arguments) from ?date= or ?month= (today if neither)."""
    month, raw = request.args.get("month"), request.args.get("date")
    if month:
        m = _MONTH.fullmatch(month)
        if not m or not 1 <= int(m[2]) <= 12:
            raise NoticeFileError("month は YYYY-MM で指定してください", 400)
        return month, {"month": month}
    try:
        day = dt.date.fromisoformat(raw) if raw else _services().clock.now().date()
    except ValueError:
        raise NoticeFileError("date は YYYY-MM-DD で指定してください", 400) from None
    return day.isoformat(), {"day": day}


@bp.get("/airlog.csv")
@login_required()
def airlog_csv():
    s = _services()
    label, query = _export_range()
    rows = station_view().airlog(**query)
    s.accounts.audit(g.user["name"], "airlog.export",
                     {"month" if "month" in query else "date": label, "rows": len(rows)})
    names = {v.id: v.name for v in s.studio.voices.values()}
    resp = Response(airlog_csv_text(rows, voice_names=names).encode("utf-8"), mimetype="text/csv")
    resp.headers["Content-Disposition"] = f'attachment; filename="airlog-{label}.csv"'
    resp.headers["Cache-Control"] = "no-store"
    return resp
