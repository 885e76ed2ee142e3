"""The JSON API for other systems (the city's disaster system, monitoring).

Tokens of scope ``bulletins`` may submit, stop and read; ``read`` tokens only read.
Every answer is JSON, refusals too (``announcer.web.errors``): a body over the size
limit is 413 ``{"error": ...}``, a full queue 429, a reused Idempotency-Key with
another script 409. ``voice`` names the preset a bulletin is read in (omitted or null:
the station's default); an unknown one is 422."""

import datetime as dt

from flask import Blueprint, g, jsonify, request

from announcer.core.errors import BulletinError
from announcer.web.auth import token_required

bp = Blueprint("api", __name__, url_prefix="/api")

AIRLOG_KEYS = ("rowid", "kind", "id", "title", "scheduled_at", "started_at", "ended_at", "status",
               "detail", "voice")
_FIELDS = {"text": str, "title": (str, type(None)), "repeat": int, "interrupt": bool,
           "chime": bool, "test": bool, "expires_at": (str, type(None)),
           "voice": (str, type(None))}


def _services():
    from flask import current_app

    return current_app.extensions["announcer"]


def parse_bulletin(payload, tz) -> dict:
    """Validate a bulletin request body into ``Station.submit_bulletin`` arguments."""
    if not isinstance(payload, dict):
        raise BulletinError("JSON のオブジェクトで送ってください", 400)
    unknown = set(payload) - set(_FIELDS)
    if unknown:
        raise BulletinError(f"不明な項目があります: {', '.join(sorted(unknown))}", 400)
    if "text" not in payload:
        raise BulletinError("text（原稿）がありません", 400)
    for key, kind in _FIELDS.items():
        value = payload.get(key)
        if key in payload and (not isinstance(value, kind) or
                               (kind is int and isinstance(value, bool))):
            raise BulletinError(f"{key} の型が違います", 400)
    expires = payload.get("expires_at")
    if expires is not None:
        try:
            expires = dt.datetime.fromisoformat(expires)
        except ValueError:
            raise BulletinError("expires_at は ISO 8601 の日時で書いてください", 400) from None
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=tz)
    return {"text": payload["text"], "title": payload.get("title"),
            "repeat": payload.get("repeat", 2),
            "interrupt": payload.get("interrupt", True), "chime": payload.get("chime", True),
            "test": payload.get("test", False), "expires_at": expires,
            "voice": payload.get("voice") or None}


@bp.post("/bulletins")
@token_required("bulletins")
def post_bulletin():
    s = _services()
    payload = request.get_json(silent=True)
    args = parse_bulletin(payload, s.config.station.timezone)
    key = request.headers.get("Idempotency-Key") or None
    bid, created = s.station.submit_bulletin(**args, by=g.user["name"], request_key=key)
    s.accounts.audit(g.user["name"], "bulletin.submit" if created else "bulletin.resubmit",
                     {"id": bid, "title": s.station.bulletin(bid)["title"], "text": args["text"],
                      "repeat": args["repeat"], "interrupt": args["interrupt"],
                      "test": args["test"], "voice": s.station.bulletin(bid).get("voice")})
    return jsonify(id=bid, status="queued"), 202


@bp.delete("/bulletins/<bid>")
@token_required("bulletins")
def delete_bulletin(bid):
    s = _services()
    if not s.station.cancel_bulletin(bid, by=g.user["name"]):
        return jsonify(error="その緊急放送はありません"), 404
    s.accounts.audit(g.user["name"], "bulletin.stop", {"id": bid})
    return jsonify(id=bid, status="cancelled"), 200


@bp.get("/bulletins/<bid>")
@token_required("read")
def get_bulletin(bid):
    b = _services().station.bulletin(bid)
    if b is None:
        return jsonify(error="その緊急放送はありません"), 404
    return jsonify(bulletin_view(b))


def bulletin_view(b: dict) -> dict:
    return {"id": b["id"], "status": b["state"], "title": b["title"], "text": b["text"],
            "repeat": b["repeat"],
            "interrupt": b["interrupt"], "chime": b["chime"], "test": b["test"],
            "created_at": b["created_at"], "expires_at": b["expires_at"],
            "created_by": b["created_by"], "updated_at": b["updated_at"],
            "voice": b.get("voice")}


@bp.get("/status")
@token_required("read")
def status():
    return jsonify(_services().station.status())


def airlog_rows(store, day: dt.date) -> list[dict]:
    return [{k: r.get(k) for k in AIRLOG_KEYS} for r in store.airlog(day)]


@bp.get("/airlog")
@token_required("read")
def airlog():
    s = _services()
    raw = request.args.get("date")
    try:
        day = dt.date.fromisoformat(raw) if raw else s.clock.now().date()
    except ValueError:
        return jsonify(error="date は YYYY-MM-DD で指定してください"), 400
    return jsonify(airlog_rows(s.store, day))


@bp.post("/airlog/<int:rowid>/ack")
@token_required("bulletins")
def acknowledge(rowid):
    """Acknowledge a partial or failed airing (it leaves the status page's red list)."""
    s = _services()
    if not s.station.acknowledge(rowid, g.user["name"]):
        return jsonify(error="確認の必要な記録ではありません（すでに確認済みかもしれません）"), 404
    s.accounts.audit(g.user["name"], "airlog.ack", {"id": rowid})
    return jsonify(rowid=rowid, acknowledged_by=g.user["name"]), 200
