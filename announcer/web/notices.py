"""Staff pages for daily notices: the list, the create/edit form (with reading and audio
preview), the week's timetable with today's rundown, and the as-run CSV export.

The notice files stay the source of truth (``announcer.noticefiles`` writes them); after
each change the station reloads at once, so the next page already shows it. Notices
from hand-edited files are shown read-only with their file name.
"""

import csv
import dataclasses
import datetime as dt
import hashlib
import io
import re

import jpholiday
from flask import (Blueprint, Response, abort, current_app, g, jsonify, redirect,
                   render_template, request, url_for)

from announcer import schedule
from announcer.errors import AnnouncerError, NothingToSay, SpeechError
from announcer.noticefiles import (DAY_KEYS, NoticeFileError, NoticeFiles, NoticeForm,
                                   form_from_notice, version_of)
from announcer.notices import MAX_TEXT
from announcer.render import write_wav
from announcer.web.auth import login_required
from announcer.web.pages import KIND_LABELS, STATUS_LABELS, _preview_slot, preview_text

bp = Blueprint("notices", __name__)

DAY_NAMES = "月火水木金土日"
HOLIDAY_LABELS = {"any": "祝日も放送", "skip": "祝日は休み", "only": "祝日だけ放送"}
COLOURS = 12  # .c0 … .c11 in notices.css
NEXT_COUNT = 3
CSV_COLUMNS = ("kind", "id", "title", "scheduled_at", "started_at", "ended_at", "status",
               "detail")
DONE = {"create": "「{id}」を登録しました。", "edit": "「{id}」の変更を保存しました。",
        "duplicate": "コピー「{id}」を作りました。一時停止中です。内容を直し、「放送する」に"
                     "チェックを入れて保存してください。",
        "pause": "「{id}」を一時停止しました。", "resume": "「{id}」の放送を再開しました。",
        "delete": "「{id}」を削除しました（ファイルはごみ箱フォルダに移しました）。"}
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _services():
    return current_app.extensions["announcer"]


def _files() -> NoticeFiles:
    s = _services()
    return NoticeFiles(s.config.paths.schedules, s.config.paths.data / "trash",
                       s.config.playout.grace, tuple(sorted(s.studio.voices)))


def _tz():
    return _services().config.station.timezone


# -- errors ----------------------------------------------------------------------------
@bp.errorhandler(AnnouncerError)
def announcer_error(exc: AnnouncerError):
    status = getattr(exc, "status", 422)
    if request.path.startswith("/staff/"):
        return jsonify(error=str(exc)), status
    return render_template("error.html", message=str(exc)), status


@bp.errorhandler(403)
@bp.errorhandler(404)
def http_error(exc):
    message = exc.description if exc.code == 403 else \
        "そのお知らせはありません。一覧を開き直してください。"
    return render_template("error.html", message=message), exc.code


# -- what the pages show about a notice ---------------------------------------------------
def colour_of(notice_id: str) -> int:
    """A colour class per id that stays the same from page to page and day to day."""
    return int(hashlib.sha1(notice_id.encode("utf-8")).hexdigest(), 16) % COLOURS


def days_label(days: frozenset[int]) -> str:
    named = {frozenset(range(7)): "毎日", frozenset(range(5)): "平日", frozenset({5, 6}): "土日"}
    return named.get(days) or "・".join(DAY_NAMES[d] for d in sorted(days))


def rule_label(notice) -> str:
    if notice.dates:
        return "・".join(_md(d) for d in notice.dates) + " のみ"
    parts = [days_label(notice.days)]
    if notice.holidays != "any":
        parts.append(HOLIDAY_LABELS[notice.holidays])
    if notice.start or notice.end:
        parts.append(f"{notice.start or ''}〜{notice.end or ''}")
    return "／".join(parts)


def _md(day: dt.date) -> str:
    return f"{day.month}/{day.day}（{DAY_NAMES[day.weekday()]}）"


def _when(at: dt.datetime) -> str:
    return f"{_md(at.date())} {at:%H:%M}" + (f":{at:%S}" if at.second else "")


def next_airings(notice, after: dt.datetime, count: int = NEXT_COUNT) -> list[dt.datetime]:
    found = []
    while len(found) < count:
        after = schedule.next_airing(notice, after, tz=after.tzinfo)
        if after is None:
            break
        found.append(after)
    return found


def _last_airings(store) -> dict[str, dict]:
    rows = store.query("SELECT a.* FROM airlog a JOIN (SELECT MAX(rowid) AS last FROM airlog"
                       " WHERE kind='notice' GROUP BY id) m ON a.rowid = m.last")
    return {r["id"]: dict(r) for r in rows}


def _owners(notice_set) -> dict[str, tuple]:
    """id → (file, notices in that file) for the notices in effect."""
    return {n.id: (path, ns) for path, ns in notice_set.files.items() for n in ns
            if notice_set.notices.get(n.id) is n}


def _editable(files: NoticeFiles, notice_id: str, owner) -> bool:
    path, notices = owner
    return files.is_web(path) and path.stem == notice_id and len(notices) == 1


def _last_view(row: dict | None) -> dict | None:
    if row is None:
        return None
    at = dt.datetime.fromisoformat(row["started_at"] or row["scheduled_at"] or row["ended_at"])
    return {"when": _when(at.astimezone(_tz())), "status": row["status"],
            "label": STATUS_LABELS.get(row["status"], row["status"])}


def _notice_rows() -> list[dict]:
    s = _services()
    files, now = _files(), s.clock.now()
    last = _last_airings(s.store)
    owners = _owners(s.station.notices)
    rows = []
    for notice in s.station.notices.notices.values():
        path = owners[notice.id][0]
        editable = _editable(files, notice.id, owners[notice.id])
        rows.append({"notice": notice, "editable": editable, "file": files.shown(path),
                     "version": version_of(path) if editable else "",
                     "colour": colour_of(notice.id), "rule": rule_label(notice),
                     "times": "・".join(t.strftime("%H:%M:%S" if t.second else "%H:%M")
                                       for t in notice.times),
                     "next": [_when(at) for at in next_airings(notice, now)],
                     "last": _last_view(last.get(notice.id))})
    return rows


def _list_page(error: str = "", status: int = 200):
    s = _services()
    s.station.reload_notices()
    files = _files()
    broken = [(files.shown(path), problems) for path, problems in s.station.notices.errors.items()]
    return render_template("notices.html", rows=_notice_rows(), broken=broken, error=error,
                           done=_done_message()), status


def _done_message() -> str:
    """The confirmation after a redirect (?done=create&id=gomi); the id is escaped
    by the template like any other text."""
    message = DONE.get(request.args.get("done", ""), "")
    return message.format(id=request.args.get("id", "")) if message else ""


@bp.get("/notices")
@login_required()
def index():
    return _list_page()


# -- the form --------------------------------------------------------------------------
def form_from_request(form) -> NoticeForm:
    return NoticeForm(
        id=form.get("id", ""), title=form.get("title", ""), text=form.get("text", ""),
        times=tuple(form.getlist("times")),
        days=frozenset(DAY_KEYS.index(d) for d in form.getlist("days") if d in DAY_KEYS),
        holidays=form.get("holidays", "any"), start=form.get("start", ""),
        end=form.get("end", ""), dates=form.get("dates", ""), chime=form.get("chime") == "on",
        voice=form.get("voice", ""), repeat=form.get("repeat", "1"),
        grace=form.get("grace", ""), enabled=form.get("enabled") == "on")


def _form_page(form: NoticeForm, *, mode: str, version: str = "", errors=None,
               error: str = "", status: int = 200, file: str = ""):
    s = _services()
    times = [t for t in form.times if t.strip()] + [""] * (2 if mode == "new" else 1)
    html = render_template(
        "notice_form.html", form=form, mode=mode, version=version, errors=errors or {},
        error=error, file=file, times=times, day_keys=DAY_KEYS, day_names=DAY_NAMES,
        holiday_labels=HOLIDAY_LABELS, voices=sorted(s.studio.voices.items()),
        default_voice=s.studio.voice(None).name,
        default_grace=int(s.config.playout.grace.total_seconds()), max_text=MAX_TEXT,
        done=_done_message())
    resp = Response(html, status)
    resp.headers["Cache-Control"] = "no-store"  # a form from the cache carries an old version
    return resp


def _refused(exc: NoticeFileError, form: NoticeForm, mode: str, version: str = "",
             file: str = ""):
    """The form again, as typed, with the problems next to their fields."""
    return _form_page(form, mode=mode, version=version, errors=exc.fields, error=str(exc),
                      status=exc.status, file=file)


def _saved(action: str, notice_id: str, before, after, **extra):
    s = _services()
    s.accounts.audit(g.user["name"], f"notice.{action}",
                     {"id": notice_id, "before": before, "after": after, **extra})
    s.station.reload_notices(force=True)


@bp.get("/notices/new")
@login_required()
def new():
    return _form_page(NoticeForm(), mode="new")


@bp.post("/notices/new")
@login_required()
def create():
    form = form_from_request(request.form)
    try:
        before, after = _files().create(form)
    except NoticeFileError as exc:
        return _refused(exc, form, "new")
    _saved("create", form.id.strip(), before, after)
    return redirect(url_for(".index", done="create", id=form.id.strip()), 303)


def _owner_or_404(notice_id: str):
    s = _services()
    s.station.reload_notices()
    owner = _owners(s.station.notices).get(notice_id)
    if owner is None:
        abort(404)
    return owner


def _read_only_message(path) -> str:
    return (f"このお知らせはファイル {_files().shown(path)} で管理されています。画面からは変更"
            "できません（「複製」すると、画面で編集できるコピーを作れます）。")


@bp.get("/notices/<notice_id>/edit")
@login_required()
def edit(notice_id):
    owner = _owner_or_404(notice_id)
    files = _files()
    if not _editable(files, notice_id, owner):
        s = _services()
        form = form_from_notice(s.station.notices.notices[notice_id], s.config.playout.grace)
        return _form_page(form, mode="view", file=files.shown(owner[0]),
                          error=_read_only_message(owner[0]))
    form, version = files.read(notice_id)
    return _form_page(form, mode="edit", version=version, file=files.shown(owner[0]))


def _web_only(notice_id: str):
    """The owner of a notice the page may change; 403 for hand-edited files."""
    owner = _owner_or_404(notice_id)
    if not _editable(_files(), notice_id, owner):
        abort(403, description=_read_only_message(owner[0]))
    return owner


@bp.post("/notices/<notice_id>/edit")
@login_required()
def update(notice_id):
    owner = _web_only(notice_id)
    form = dataclasses.replace(form_from_request(request.form), id=notice_id)
    version = request.form.get("version", "")
    try:
        before, after = _files().update(notice_id, form, version)
    except NoticeFileError as exc:
        return _refused(exc, form, "edit", version, _files().shown(owner[0]))
    _saved("edit", notice_id, before, after)
    return redirect(url_for(".index", done="edit", id=notice_id), 303)


@bp.post("/notices/<notice_id>/duplicate")
@login_required()
def duplicate(notice_id):
    _owner_or_404(notice_id)
    notice = _services().station.notices.notices[notice_id]
    try:
        new_id, after = _files().duplicate(notice)
    except NoticeFileError as exc:
        return _list_page(str(exc) + "".join(m for ms in exc.fields.values() for m in ms),
                          exc.status)
    _saved("duplicate", new_id, None, after, source=notice_id)
    return redirect(url_for(".edit", notice_id=new_id, done="duplicate", id=new_id), 303)


@bp.post("/notices/<notice_id>/pause", defaults={"enabled": False})
@bp.post("/notices/<notice_id>/resume", defaults={"enabled": True})
@login_required()
def set_enabled(notice_id, enabled):
    _web_only(notice_id)
    try:
        before, after = _files().set_enabled(notice_id, enabled,
                                             request.form.get("version", ""))
    except NoticeFileError as exc:
        return _list_page(str(exc), exc.status)
    action = "resume" if enabled else "pause"
    _saved(action, notice_id, before, after)
    return redirect(url_for(".index", done=action, id=notice_id), 303)


@bp.post("/notices/<notice_id>/delete")
@login_required()
def delete(notice_id):
    _web_only(notice_id)
    files = _files()
    try:
        before, trash = files.delete(notice_id, request.form.get("version", ""),
                                     _services().clock.now())
    except NoticeFileError as exc:
        return _list_page(str(exc), exc.status)
    _saved("delete", notice_id, before, None, trash=files.shown(trash))
    return redirect(url_for(".index", done="delete", id=notice_id), 303)


# -- reading and preview (JSON for notices.js) -----------------------------------------------
def script_args(payload, voices) -> dict:
    """The body of a reading/preview request as ``Studio.notice_program`` arguments."""
    if not isinstance(payload, dict):
        raise NoticeFileError("JSON のオブジェクトで送ってください", 400)
    text, voice = payload.get("text"), payload.get("voice") or None
    repeat, chime = payload.get("repeat", 1), payload.get("chime", True)
    if not isinstance(text, str) or not text.strip():
        raise NoticeFileError("読み上げる文章が空です。入力してください", 422)
    if len(text.strip()) > MAX_TEXT:
        raise NoticeFileError(f"文章が長すぎます（{len(text.strip())}文字）。{MAX_TEXT}文字以内にしてください", 413)
    if voice is not None and voice not in voices:
        raise NoticeFileError(f'声 "{voice}" はありません', 422)
    if isinstance(repeat, bool) or not isinstance(repeat, int) or not 1 <= repeat <= 3:
        raise NoticeFileError("繰り返し回数は 1 から 3 までにしてください", 422)
    if not isinstance(chime, bool):
        raise NoticeFileError("chime は true か false にしてください", 400)
    return {"text": text.strip(), "voice": voice, "repeat": repeat, "chime": chime}


def _speech_error(exc: Exception) -> NoticeFileError:
    if isinstance(exc, NothingToSay):
        return NoticeFileError(str(exc), 422)
    return NoticeFileError(f"読みを作れませんでした: {exc}", 422)


@bp.post("/staff/notices/reading")
@login_required(api=True)
def staff_reading():
    s = _services()
    args = script_args(request.get_json(silent=True), s.studio.voices)
    try:
        return jsonify(reading=s.studio.reading(args["text"]))
    except (SpeechError, ValueError) as exc:
        raise _speech_error(exc) from None


@bp.post("/staff/notices/preview")
@login_required(api=True)
def staff_preview():
    s = _services()
    args = script_args(request.get_json(silent=True), s.studio.voices)
    slot = _preview_slot()
    if not slot.acquire(timeout=20):
        return jsonify(error="試聴が混み合っています。少し待ってから押してください"), 503
    try:
        buf = io.BytesIO()
        frames = write_wav(buf, s.studio.notice_program(
            preview_text(args["text"]), voice=args["voice"], chime=args["chime"],
            repeat=args["repeat"]), s.studio.settings.rate)
    except (SpeechError, ValueError) as exc:
        raise _speech_error(exc) from None
    finally:
        slot.release()
    resp = Response(buf.getvalue(), mimetype="audio/wav")
    resp.headers["X-Audio-Seconds"] = f"{frames / s.studio.settings.rate:.1f}"
    resp.headers["Cache-Control"] = "no-store"
    return resp


# -- the week's timetable and today's rundown -------------------------------------------------
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
        days.append({"date": day, "label": _md(day), "holiday": holiday, "kind": kind,
                     "today": day == today})
    return days


def _week_start(raw: str | None, today: dt.date) -> tuple[dt.date, str]:
    if not raw:
        return today, ""
    try:
        return dt.date.fromisoformat(raw), ""
    except ValueError:
        return today, "日付は YYYY-MM-DD で指定してください"


def rundown(now: dt.datetime) -> list[dict]:
    """Today: what aired (as-run log) and what is still to come, in time order."""
    s = _services()
    on_air = s.station.engine.on_air()
    rows = []
    for r in s.store.airlog(now.date()):
        at = r["started_at"] or r["scheduled_at"] or r["ended_at"]
        status = r["status"]
        if r["ended_at"] is None and on_air is not None and (on_air.kind, on_air.id) == \
                (r["kind"], r["id"]):
            status = "on_air"   # the store writes "interrupted" until the airing ends
        local = dt.datetime.fromisoformat(at).astimezone(_tz())
        rows.append({"at": local, "time": local.strftime("%H:%M:%S"),
                     "kind": KIND_LABELS.get(r["kind"], r["kind"]), "title": r["title"],
                     "status": status, "label": STATUS_LABELS.get(status, status),
                     "detail": r["detail"]})
    midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), now.tzinfo)
    for i, (at, notice) in enumerate(s.station.upcoming((midnight - now).total_seconds() / 3600,
                                                        now)):
        rows.append({"at": at, "time": at.strftime("%H:%M:%S"), "kind": KIND_LABELS["notice"],
                     "title": notice.title, "status": "next" if i == 0 else "planned",
                     "label": "次に放送" if i == 0 else "予定", "detail": ""})
    rows.sort(key=lambda r: r["at"])
    return rows


@bp.get("/timetable")
@login_required()
def timetable():
    s = _services()
    s.station.reload_notices()
    now = s.clock.now()
    first, error = _week_start(request.args.get("start"), now.date())
    days = week_days(first, now.date())
    notices = list(s.station.notices.notices.values())
    grid = week_grid(notices, [d["date"] for d in days])
    shown = {e["notice"].id for row in grid for cell in row["cells"] for e in cell}
    legend = [{"notice": n, "colour": colour_of(n.id)} for n in notices if n.id in shown]
    return render_template("timetable.html", days=days, grid=grid, legend=legend, error=error,
                           first=first, prev=first - dt.timedelta(days=7),
                           next=first + dt.timedelta(days=7), today=now.date(),
                           month=now.strftime("%Y-%m"), rundown=rundown(now),
                           now=now.strftime("%H:%M"))


# -- the as-run log as CSV ----------------------------------------------------------------------
def _cell(value) -> str:
    """Text as Excel should show it: a leading = + - @ would start a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def airlog_csv_text(rows: list[dict]) -> str:
    buf = io.StringIO()
    buf.write("\ufeff")  # UTF-8 with BOM: Excel opens the Japanese correctly
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow([_cell(r[k]) for k in CSV_COLUMNS])
    return buf.getvalue()


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
    rows = s.store.airlog(**query)
    s.accounts.audit(g.user["name"], "airlog.export",
                     {"month" if "month" in query else "date": label, "rows": len(rows)})
    resp = Response(airlog_csv_text(rows).encode("utf-8"), mimetype="text/csv")
    resp.headers["Content-Disposition"] = f'attachment; filename="airlog-{label}.csv"'
    resp.headers["Cache-Control"] = "no-store"
    return resp
