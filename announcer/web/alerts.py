"""The 「気象庁の情報」 page and API: what JMA sent, what the station decided, drafts
waiting for approval, and history.

The page only reads through ``JmaService.items/item`` and acts through its
``approve``/``discard``; approving takes a confirm step showing the exact text that
will air with its reading, an audio preview, and when and how often it will air.
``GET /api/alerts?date=`` (token) lists a day's items; ``POST /api/alerts/<id>/approve``
takes a token or a staff session; ``DELETE /api/alerts/<id>`` (a ``bulletins`` token)
stops an item on air or queued through the station, like the status page's 停止.
Every approval, discard and stop is audited. The page also shows who approved an
item (from the audit log) and the messages that were not for us (another region…).
"""

import datetime as dt
import functools
import io

from flask import (Blueprint, Response, current_app, g, jsonify, redirect, render_template,
                   request, url_for)

from announcer.core.errors import SpeechError
from announcer.jma.policy import DEFAULTS
from announcer.jma.service import STATUS_LABELS, AlertError
from announcer.studio.render import write_wav
from announcer.web.auth import login_required, token_required
from announcer.web.board import station_view
from announcer.web.preview import Busy, bounded_sentences, preview_slot

bp = Blueprint("alerts", __name__)

API_KEYS = ("id", "type", "title", "areas", "received_at", "decision", "status", "text")
DECISION_LABELS = {"auto": "自動で放送", "approve": "承認して放送", "log": "記録のみ"}
CATEGORY_LABELS = {"special_warning": "特別警報", "danger": "警戒レベル４（危険警報・土砂災害警戒情報・氾濫危険）",
                   "record_rain": "記録的短時間大雨情報・線状降水帯", "quake_strong": "震度5弱以上",
                   "warning": "警報・氾濫警戒情報", "tornado": "竜巻注意情報",
                   "quake_moderate": "震度3・4", "weather_info": "府県気象情報",
                   "volcano": "噴火警報・予報", "advisory": "注意報・氾濫注意情報",
                   "other": "その他（震度1・2、降灰予報、南海トラフ、津波など）"}
OFF = "気象庁の情報は使われていません（station.yaml の jma.enabled を true にしてください）"


def _services():
    return current_app.extensions["announcer"]


def _jma():
    return current_app.extensions.get("announcer.jma")


@bp.errorhandler(AlertError)
def alert_error(exc: AlertError):
    if request.path.startswith("/api/"):
        return jsonify(error=str(exc)), exc.status
    return render_template("error.html", message=str(exc), status=exc.status), exc.status


def _need_jma():
    jma = _jma()
    if jma is None:
        raise AlertError(OFF, 503)
    return jma


def token_or_session(view):
    """A bearer token when one is sent, else a staff session (with its CSRF check)."""
    by_token, by_session = token_required("bulletins")(view), login_required(api=True)(view)

    @functools.wraps(view)
    def inner(*args, **kwargs):
        if request.headers.get("Authorization"):
            return by_token(*args, **kwargs)
        return by_session(*args, **kwargs)
    return inner


def _day():
    raw = request.args.get("date", "")
    today = _services().clock.now().date()
    try:
        return (dt.date.fromisoformat(raw) if raw else today), ""
    except ValueError:
        return today, "日付は YYYY-MM-DD で指定してください"


# -- API -----------------------------------------------------------------------------
@bp.get("/api/alerts")
@token_required("read")
def api_list():
    jma = _need_jma()
    day, error = _day()
    if error:
        return jsonify(error=error), 400
    return jsonify([{k: item[k] for k in API_KEYS} for item in jma.items(day)])


@bp.post("/api/alerts/<item_id>/approve")
@token_or_session
def api_approve(item_id):
    item = _approve(item_id)
    return jsonify({k: item[k] for k in API_KEYS}), 202


@bp.delete("/api/alerts/<item_id>")
@token_required("bulletins")
def api_stop(item_id):
    """Stop a JMA item on air or queued (its station bulletin), audited ``alert.stop``."""
    jma = _need_jma()
    item = jma.item(item_id)
    if item is None:
        return jsonify(error="その情報はありません"), 404
    bid = jma.bulletin_of(item_id)
    if not bid or not _services().station.stop_item("alert", bid, by=g.user["name"]):
        return jsonify(error="この情報はいま放送中でも放送待ちでもありません"), 409
    _services().accounts.audit(g.user["name"], "alert.stop",
                               {"id": item_id, "bulletin": bid, "title": item["title"]})
    return jsonify(id=item_id, bulletin=bid, status="cancelled"), 200


def _approve(item_id: str) -> dict:
    item = _need_jma().approve(item_id, g.user["name"])
    _services().accounts.audit(g.user["name"], "alert.approve",
                               {"id": item_id, "title": item["title"], "text": item["text"]})
    return item


# -- the page ----------------------------------------------------------------------------
def _view(item: dict, tz, approvers: dict | None = None) -> dict:
    at = dt.datetime.fromisoformat(item["received_at"]).astimezone(tz)
    expires = item["expires_at"] and dt.datetime.fromisoformat(item["expires_at"]).astimezone(tz)
    # A message we do not air (a drill, an older one) has no decision to show: "自動で
    # 放送" beside "放送しない" would contradict itself.
    decision = "—" if item["status"] == "ignored" else \
        DECISION_LABELS.get(item["decision"], item["decision"])
    approver = (approvers or {}).get(item["id"])
    return dict(item, time=at.strftime("%H:%M:%S"),
                expires=expires.strftime("%H:%M") if expires else "",
                decision_label=decision, approver=approver,
                status_label=STATUS_LABELS.get(item["status"], item["status"]))


def _approvers() -> dict:
    """JMA item id -> who approved it (the audit log is the record of it)."""
    rows, _ = station_view().audit_page(action="alert.approve", per_page=500)
    return {r["detail"].get("id"): r["who"] for r in reversed(rows)
            if isinstance(r["detail"], dict)}


def _passed_over(jma, day: dt.date, tz) -> list[dict]:
    start = dt.datetime.combine(day, dt.time(), tz)
    return [dict(r, time=dt.datetime.fromisoformat(r["at"]).astimezone(tz).strftime("%H:%M:%S"),
                 source=r["source"].removeprefix("inbox:"))
            for r in jma.db.passed_over(start, start + dt.timedelta(days=1))]


def airing_plan(emergency) -> dict:
    """When and how often an approved item airs (the confirm page says it)."""
    return {"repeat": emergency.repeat, "chime": emergency.chime}


def _reading(text: str) -> str:
    try:
        return _services().studio.reading(text)
    except (SpeechError, ValueError) as exc:
        return f"（読みを作れませんでした: {exc}）"


@bp.get("/alerts")
@login_required()
def index():
    jma, s = _jma(), _services()
    day, error = _day()
    if jma is None:
        return render_template("alerts.html", off=OFF, day=day, error=error, items=[],
                               pending=[], policy=[], passed=[])
    tz = s.config.station.timezone
    pending = [dict(_view(i, tz), reading=_reading(i["text"]))
               for i in jma.db.open_items() if i["status"] == "pending"]
    approvers = _approvers()
    items = [_view(i, tz, approvers) for i in reversed(jma.items(day))]
    policy = [(CATEGORY_LABELS[c], DECISION_LABELS[jma.settings.decision(c)]) for c in DEFAULTS]
    return render_template("alerts.html", off="", day=day, error=error, items=items,
                           pending=pending, policy=policy, done=request.args.get("done", ""),
                           passed=_passed_over(jma, day, tz))


@bp.post("/alerts/<item_id>/confirm")
@login_required()
def confirm(item_id):
    item = _need_jma().item(item_id)
    if item is None:
        raise AlertError("その情報はありません", 404)
    s = _services()
    tz = s.config.station.timezone
    return render_template("alert_confirm.html", item=_view(item, tz),
                           reading=_reading(item["text"]),
                           plan=airing_plan(s.config.emergency))


@bp.post("/alerts/<item_id>/approve")
@login_required()
def approve(item_id):
    _approve(item_id)
    return redirect(url_for(".index", done="approved"), 303)


@bp.post("/alerts/<item_id>/discard")
@login_required()
def discard(item_id):
    item = _need_jma().discard(item_id, g.user["name"])
    _services().accounts.audit(g.user["name"], "alert.discard",
                               {"id": item_id, "title": item["title"]})
    return redirect(url_for(".index", done="discarded"), 303)


@bp.get("/alerts/<item_id>/audio.wav")
@login_required()
def audio(item_id):
    item = _need_jma().item(item_id)
    if item is None:
        raise AlertError("その情報はありません", 404)
    studio = _services().studio
    try:
        with preview_slot():  # bounded and on the preview slot like every preview
            sentences, _ = bounded_sentences(studio, item["text"])
            buf = io.BytesIO()
            write_wav(buf, studio.bulletin_program(item["text"], repeat=1, chime=False,
                                                   urgent=False, sentences=sentences,
                                                   voice=_need_jma().cfg.voice),
                      studio.settings.rate)
    except Busy as exc:
        raise AlertError(str(exc), 503) from None
    except (SpeechError, ValueError) as exc:
        raise AlertError(f"試聴を作れませんでした: {exc}", 422) from None
    resp = Response(buf.getvalue(), mimetype="audio/wav")
    resp.headers["Cache-Control"] = "no-store"
    return resp
