"""Staff pages for daily notices: the list, and the create/edit form (its reading and
audio preview are ``announcer.web.notice_preview``; the week's timetable and the as-run
CSV are ``announcer.web.timetable``).

The notice files stay the source of truth (``announcer.notices.editing`` writes them); after
each change the station reloads at once, so the next page already shows it. Notices
from hand-edited files are shown read-only with their file name.
"""

import dataclasses
import datetime as dt

from flask import (Blueprint, Response, abort, current_app, g, redirect, render_template,
                   request, url_for)

from announcer.record.airlog_csv import STATUS_LABELS
from announcer.notices.editing import (DAY_KEYS, NoticeFileError, NoticeFiles, NoticeForm,
                                   form_from_notice, version_of)
from announcer.notices.files import MAX_TEXT
from announcer.web.auth import login_required
from announcer.web.board import station_view
from announcer.web.notice_labels import (DAY_NAMES, HOLIDAY_LABELS, colour_of, next_airings,
                                         rule_label, when_label)

bp = Blueprint("notices", __name__)

DONE = {"create": "「{id}」を登録しました。", "edit": "「{id}」の変更を保存しました。",
        "duplicate": "コピー「{id}」を作りました。一時停止中です。内容を直し、「放送する」に"
                     "チェックを入れて保存してください。",
        "pause": "「{id}」を一時停止しました。", "resume": "「{id}」の放送を再開しました。",
        "delete": "「{id}」を削除しました（ファイルはごみ箱フォルダに移しました）。"}


def _services():
    return current_app.extensions["announcer"]


def _files() -> NoticeFiles:
    s = _services()
    return NoticeFiles(s.config.paths.schedules, s.config.paths.data / "trash",
                       s.config.playout.grace, tuple(sorted(s.studio.voices)))


def _tz():
    return _services().config.station.timezone


# -- what the list shows about a notice ------------------------------------------------
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
    return {"when": when_label(at.astimezone(_tz())), "status": row["status"],
            "label": STATUS_LABELS.get(row["status"], row["status"])}


def _notice_rows() -> list[dict]:
    view = station_view()
    files, now = _files(), _services().clock.now()
    last = view.last_airings()
    owners = _owners(view.notice_set())
    rows = []
    for notice in view.notices():
        path = owners[notice.id][0]
        editable = _editable(files, notice.id, owners[notice.id])
        rows.append({"notice": notice, "editable": editable, "file": files.shown(path),
                     "version": version_of(path) if editable else "",
                     "colour": colour_of(notice.id), "rule": rule_label(notice),
                     "times": "・".join(t.strftime("%H:%M:%S" if t.second else "%H:%M")
                                       for t in notice.times),
                     "next": [when_label(at) for at in next_airings(notice, now)],
                     "last": _last_view(last.get(notice.id))})
    return rows


def _list_page(error: str = "", status: int = 200):
    files = _files()
    broken = [(files.shown(path), problems)
              for path, problems in station_view().notice_set().errors.items()]
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
        grace=form.get("grace", ""), enabled=form.get("enabled") == "on",
        easy_text=form.get("easy_text", ""))


def _form_page(form: NoticeForm, *, mode: str, version: str = "", errors=None,
               error: str = "", status: int = 200, file: str = ""):
    s = _services()
    times = [t for t in form.times if t.strip()] + [""] * (2 if mode == "new" else 1)
    html = render_template(
        "notice_form.html", form=form, mode=mode, version=version, errors=errors or {},
        error=error, file=file, times=times, day_keys=DAY_KEYS, day_names=DAY_NAMES,
        holiday_labels=HOLIDAY_LABELS, voices=sorted(s.studio.voices.items()),
        default_voice=("時間帯で読み分け" if s.config.speech.rotation  # speech.rotation
                       else s.studio.voice(None).name),
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


def _owner_or_404(notice_id: str, *, reload: bool = False):
    """The notice's (file, notices); a change (POST) first picks up hand edits."""
    if reload:
        _services().station.reload_notices()
    owner = _owners(station_view().notice_set()).get(notice_id)
    if owner is None:
        abort(404, description="そのお知らせはありません。一覧を開き直してください。")
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
        form = form_from_notice(station_view().notice(notice_id),
                                _services().config.playout.grace)
        return _form_page(form, mode="view", file=files.shown(owner[0]),
                          error=_read_only_message(owner[0]))
    form, version = files.read(notice_id)
    return _form_page(form, mode="edit", version=version, file=files.shown(owner[0]))


def _web_only(notice_id: str):
    """The owner of a notice the page may change; 403 for hand-edited files."""
    owner = _owner_or_404(notice_id, reload=True)
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
    _owner_or_404(notice_id, reload=True)
    notice = station_view().notice(notice_id)
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
