"""The session-authenticated JSON that the status board and the emergency form's scripts
call: the live board, the reading and the preview of a script, submit and stop.

Stop is one action for every item on air or queued, whatever its kind (``notice``,
``bulletin``, ``alert``): ``/staff/items/<kind>/<id>/stop``, audited ``<kind>.stop``
(the older per-kind addresses lead there).

Each answer is JSON (errors too, as ``{"error": ...}``) except the preview (audio/wav)
and a stop posted by the plain form on the status page, which comes back to that page.
"""

import io

from flask import Blueprint, Response, current_app, g, jsonify, redirect, request, url_for

from announcer.studio.render import write_wav
from announcer.web.api import parse_bulletin
from announcer.web.auth import login_required
from announcer.web.board import board, station_view
from announcer.web.pages import BLANK, bulletin_reading, no_store, submit_bulletin
from announcer.web.preview import bounded_sentences, preview_slot, preview_text, reading_slot

bp = Blueprint("staff", __name__)

STATE_LABELS = {"queued": "放送待ち", "on_air": "放送中", "aired": "放送済み",
                "cancelled": "取り消し", "expired": "期限切れ", "failed": "失敗"}


def _services():
    return current_app.extensions["announcer"]


def _tz():
    return _services().config.station.timezone


def _checked_json() -> dict:
    """The request body as ``submit_bulletin`` arguments, validated like a submit."""
    args = parse_bulletin(request.get_json(silent=True), _tz())
    _services().station.validate_bulletin(args["text"], args["repeat"], args["test"],
                                          args["voice"])
    return args


def _preview_wav(studio, text: str, *, chime: bool, drill: bool,
                 voice: str | None) -> tuple[bytes, float]:
    # Not urgent: a preview must never take the synthesis threads reserved for a
    # bulletin that is going on air. Bounded after every expansion (preview.py).
    sentences, _ = bounded_sentences(studio, text, drill=drill)
    program = studio.bulletin_program(text, repeat=1, chime=chime, drill=drill, urgent=False,
                                      voice=voice, sentences=sentences)
    buf = io.BytesIO()
    frames = write_wav(buf, program, studio.settings.rate)
    return buf.getvalue(), frames / studio.settings.rate


@bp.get("/staff/status")
@login_required(api=True)
def status():
    return jsonify(board())


@bp.post("/staff/reading")
@login_required(api=True)
def reading():
    args = _checked_json()
    with reading_slot():
        reading = bulletin_reading(args["text"])
    return jsonify(reading=reading, blanks=len(BLANK.findall(args["text"])))


@bp.post("/staff/preview")
@login_required(api=True)
def preview():
    args = _checked_json()
    s = _services()
    text = preview_text(args["text"])
    s.accounts.audit(g.user["name"], "bulletin.preview",
                     {"text": text, "chime": args["chime"], "test": args["test"],
                      "voice": s.studio.voice(args["voice"]).id})
    with preview_slot():
        body, seconds = _preview_wav(s.studio, text, chime=args["chime"], drill=args["test"],
                                     voice=args["voice"])
    resp = Response(body, mimetype="audio/wav")
    resp.headers["X-Audio-Seconds"] = f"{seconds:.1f}"
    return no_store(resp)


@bp.post("/staff/bulletins")
@login_required(api=True)
def submit():
    payload = request.get_json(silent=True)
    key = payload.pop("request_key", None) if isinstance(payload, dict) else None
    bid = submit_bulletin(parse_bulletin(payload, _tz()), key)
    return jsonify(id=bid, status="queued"), 202


KIND_WORDS = {"bulletin": "緊急放送", "alert": "気象庁の情報", "notice": "お知らせ"}


@bp.post("/staff/items/<any(notice, bulletin, alert):kind>/<item_id>/stop")
@login_required(api=True)
def stop_item(kind, item_id):
    """Any item on air (short fade) or queued, whatever its kind: one model, one action.
    A plain form post (no JavaScript) comes back to the status page. Audited as
    ``<kind>.stop``."""
    s = _services()
    what = KIND_WORDS[kind]
    state = "on_air" if station_view().on_air() == (kind, item_id) else "queued"
    if kind == "notice":
        notice = station_view().notice(item_id)
        detail = {"id": item_id, "title": notice.title if notice else ""}
    else:
        b = station_view().bulletin(item_id)
        if b is None or b.get("kind", "bulletin") != kind:
            return jsonify(error=f"その{what}はありません"), 404
        if b["state"] not in ("queued", "on_air"):
            return jsonify(error=f"この{what}はすでに終わっています"
                                 f"（{STATE_LABELS.get(b['state'], b['state'])}）"), 409
        detail = {"id": item_id, "title": b["title"], "text": b["text"], "state": b["state"]}
    if not s.station.stop_item(kind, item_id, by=g.user["name"]):
        return jsonify(error=f"その{what}はいま放送中でも放送待ちでもありません"), 409
    if kind == "notice":
        detail["state"] = state
    s.accounts.audit(g.user["name"], f"{kind}.stop", detail)
    return _stopped(item_id)


@bp.post("/staff/bulletins/<bid>/stop")
@login_required(api=True)
def stop(bid):
    """The older address of a bulletin's stop (the kind is the bulletin's own)."""
    b = station_view().bulletin(bid)
    if b is None:
        return jsonify(error="その緊急放送はありません"), 404
    return stop_item(b.get("kind", "bulletin"), bid)


@bp.post("/staff/notices/<notice_id>/stop")
@login_required(api=True)
def stop_notice(notice_id):
    """The older address of a notice's stop; it is not aired again until its next time."""
    return stop_item("notice", notice_id)


@bp.post("/staff/airlog/<int:rowid>/ack")
@login_required(api=True)
def acknowledge(rowid):
    """A staff member saw a partial or failed airing: it stops being shown in red."""
    s = _services()
    if not s.station.acknowledge(rowid, g.user["name"]):
        return jsonify(error="確認の必要な記録ではありません（すでに確認済みかもしれません）"), 404
    s.accounts.audit(g.user["name"], "airlog.ack", {"id": rowid})
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return redirect(url_for("pages.index"), 303)
    return jsonify(rowid=rowid, acknowledged_by=g.user["name"])


def _stopped(item_id: str):
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return redirect(url_for("pages.index"), 303)
    at = _services().clock.now().astimezone(_tz()).strftime("%H:%M:%S")
    return jsonify(id=item_id, status="cancelled", stopped_at=at, by=g.user["name"])
