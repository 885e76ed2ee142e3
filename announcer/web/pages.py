"""Staff pages for bulletins: the status board and the emergency form, with the labels,
templates and error pages their JSON (``announcer.web.staff``) and the other staff
pages share.

Whatever staff typed reaches HTML only through Jinja's autoescape, and the scripts put
it on the page only with ``textContent``. The emergency form works without JavaScript
too (confirm and air are plain form posts); the scripts add templates, the reading,
the preview and a live status board.
"""

import datetime as dt
import re
import uuid

from flask import Blueprint, Response, current_app, g, redirect, render_template, request, url_for

from announcer.errors import SpeechError
from announcer.station import BulletinError
from announcer.studio import DRILL_PREFIX
from announcer.web.api import parse_bulletin
from announcer.web.auth import login_required

bp = Blueprint("pages", __name__)

BLANK = re.compile(r"【[\s　○〇＿_]*】")  # keep in sync with web/static/emergency.js
_REQUEST_KEY = re.compile(r"[A-Za-z0-9-]{16,64}")
_BLANK = "【　　】"

# (label, script, drill). Blanks are what staff must complete before airing.
TEMPLATES = (
    ("避難指示", "緊急放送、緊急放送。こちらは、真岡市役所です。"
     f"{_BLANK}地区に、避難指示を発令しました。{_BLANK}地区の方は、"
     f"直ちに{_BLANK}などの安全な場所へ避難してください。"
     "外に出るのが危険な場合は、建物の2階以上など、少しでも安全な場所に移ってください。", False),
    ("土砂災害", "緊急放送、緊急放送。こちらは、真岡市役所です。"
     f"{_BLANK}地区に、土砂災害警戒情報が発表されました。がけや斜面の近くにお住まいの方は、"
     f"直ちに{_BLANK}へ避難してください。"
     "がけから小石が落ちる、わき水が濁るなどの前触れに注意してください。", False),
    ("地震", "緊急放送、緊急放送。こちらは、真岡市役所です。"
     f"ただいま、真岡市で震度{_BLANK}の地震がありました。まず、身の安全を確保してください。"
     "揺れがおさまったら、火の始末をし、倒れた家具や割れたガラスに注意してください。"
     "今後の情報に注意してください。", False),
    ("大雨・洪水", "緊急放送、緊急放送。こちらは、真岡市役所です。"
     f"大雨のため、{_BLANK}川の水位が上がり、氾濫の危険が高まっています。"
     f"{_BLANK}地区の方は、直ちに{_BLANK}へ避難してください。"
     "川や用水路には、絶対に近づかないでください。", False),
    ("訓練/テスト", "こちらは、真岡市役所です。ただいまから、"
     f"{_BLANK}の訓練放送を行います。実際の災害ではありません。", True),
)

KIND_LABELS = {"bulletin": "緊急放送", "notice": "お知らせ", "alert": "気象庁の情報"}
STATUS_LABELS = {"on_air": "放送中", "aired": "放送済み", "interrupted": "中断", "missed": "未放送（時間切れ）",
                 "failed": "失敗", "cancelled": "取り消し"}



def _services():
    return current_app.extensions["announcer"]


def _tz():
    return _services().config.station.timezone


@bp.app_context_processor
def inject():
    return {"station_name": _services().config.station.name}


# -- the status board ------------------------------------------------------------------
def _hms(iso: str | None) -> str:
    if not iso:
        return ""
    return dt.datetime.fromisoformat(iso).astimezone(_tz()).strftime("%H:%M:%S")


def _remaining_today(station, now: dt.datetime) -> list[dict]:
    midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), now.tzinfo)
    hours = (midnight - now).total_seconds() / 3600
    return [{"at": at.strftime("%H:%M"), "id": n.id, "title": n.title}
            for at, n in station.upcoming(hours, now)[:50]]


def _airlog(store, day: dt.date, on_air: dict | None) -> list[dict]:
    """Today's as-run log, newest first, with labels ready to show."""
    rows = []
    for r in reversed(store.airlog(day)):
        status = r["status"]
        # The store writes "interrupted" until an airing ends (what a crash would leave).
        if r["ended_at"] is None and on_air and (r["kind"], r["id"]) == (on_air["kind"],
                                                                          on_air["id"]):
            status = "on_air"
        rows.append({"time": _hms(r["started_at"] or r["scheduled_at"]) or "—",
                     "kind": r["kind"],
                     "kind_label": KIND_LABELS.get(r["kind"], r["kind"]), "id": r["id"],
                     "title": r["title"], "status": status,
                     "status_label": STATUS_LABELS.get(status, status), "detail": r["detail"]})
    return rows


def board() -> dict:
    """``station.status()`` plus health, today's remaining notices and as-run log."""
    s = _services()
    now = s.clock.now()
    status = s.station.status()
    on_air = status["on_air"]
    if on_air is not None:
        on_air = dict(on_air, label=KIND_LABELS.get(on_air["kind"], on_air["kind"]),
                      since=_hms(on_air["started_at"]))
    queue = [dict(q, label=KIND_LABELS.get(q["kind"], q["kind"])) for q in status["queue"]]
    return dict(status, on_air=on_air, queue=queue, now=now.strftime("%H:%M:%S"),
                health=s.station.health(), today=_remaining_today(s.station, now),
                airlog=_airlog(s.store, now.date(), on_air))


@bp.get("/")
@login_required()
def index():
    sent = request.args.get("sent")
    bulletin = _services().station.bulletin(sent) if sent else None
    return render_template("index.html", board=board(), sent=bulletin)


# -- the emergency form ----------------------------------------------------------------
def _form_fields(form) -> dict:
    """What the form showed, to show it again (also when invalid)."""
    return {"text": form.get("text", ""), "repeat": form.get("repeat", "2"),
            "timing": "after" if form.get("timing") == "after" else "now",
            "chime": form.get("chime") == "on", "test": form.get("test") == "on",
            "request_key": form.get("request_key") or uuid.uuid4().hex}


def _form_payload(fields: dict) -> dict:
    """Map the form's fields onto ``parse_bulletin``'s keys."""
    try:
        repeat = int(fields["repeat"])
    except ValueError:
        raise BulletinError("繰り返し回数は 1 から 5 までにしてください", 422) from None
    return {"text": fields["text"], "repeat": repeat, "interrupt": fields["timing"] == "now",
            "chime": fields["chime"], "test": fields["test"]}


def no_store(resp: Response) -> Response:
    # A form restored from the browser cache would resend an old request_key.
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _form_page(fields: dict, error: str = "", status: int = 200):
    html = render_template("emergency.html", fields=fields, templates=TEMPLATES, error=error,
                           blanks=len(BLANK.findall(fields["text"])), max_chars=5000)
    return no_store(Response(html, status))


def _blank_pieces(text: str) -> list[tuple[str, bool]]:
    """The text as (piece, is_blank) parts, so the confirmation can mark the blanks."""
    pieces, pos = [], 0
    for m in BLANK.finditer(text):
        pieces += [(text[pos:m.start()], False), (m.group(), True)]
        pos = m.end()
    return [p for p in pieces + [(text[pos:], False)] if p[0]]


def _confirm_page(args: dict, fields: dict):
    try:
        reading, reading_error = bulletin_reading(args["text"]), ""
    except BulletinError as exc:  # show the problem; airing stays possible
        reading, reading_error = "", str(exc)
    html = render_template("confirm.html", args=args, fields=fields, reading=reading,
                           reading_error=reading_error, drill_prefix=DRILL_PREFIX,
                           blanks=len(BLANK.findall(args["text"])),
                           pieces=_blank_pieces(args["text"]))
    return no_store(Response(html))


@bp.get("/emergency")
@login_required()
def emergency():
    config = _services().config.emergency
    fields = _form_fields({"repeat": str(config.repeat), "chime": "on" if config.chime else ""})
    return _form_page(fields)


@bp.post("/emergency")
@login_required()
def emergency_post():
    """Without JavaScript: step "confirm" shows the confirmation, "edit" goes back to
    the form, "air" submits."""
    fields = _form_fields(request.form)
    step = request.form.get("step", "confirm")
    if step == "edit":
        return _form_page(fields)
    try:
        args = parse_bulletin(_form_payload(fields), _tz())
        _services().station.validate_bulletin(args["text"], args["repeat"], args["test"])
        if step == "air":
            bid = submit_bulletin(args, fields["request_key"])
            return redirect(url_for(".index", sent=bid), 303)
        return _confirm_page(args, fields)
    except BulletinError as exc:
        if exc.status == 409:  # this form's key is spent: a fresh one sends it as new
            fields["request_key"] = uuid.uuid4().hex
        return _form_page(fields, str(exc), exc.status)


# -- what the form and the scripts share -----------------------------------------------
def bulletin_reading(text: str) -> str:
    try:
        return _services().studio.reading(text)
    except (SpeechError, ValueError) as exc:
        raise BulletinError(f"読みを作れませんでした: {exc}", 422) from None


def submit_bulletin(args: dict, key) -> str:
    """Queue once per ``request_key``; the same key with another script is refused,
    so a form resent from the browser's history cannot swallow a new bulletin."""
    if not isinstance(key, str) or not _REQUEST_KEY.fullmatch(key):
        raise BulletinError("送信キーがありません。ページを読み込み直してください", 400)
    s = _services()
    try:  # the station refuses the same key with another script (409)
        bid, created = s.station.submit_bulletin(**args, by=g.user["name"], request_key=key)
    except BulletinError as exc:
        if exc.status != 409:
            raise
        raise BulletinError("この画面の原稿はすでに送信済みです。新しい原稿は「緊急放送」を"
                            "開き直して入力してください", 409) from None
    s.accounts.audit(g.user["name"], "bulletin.submit" if created else "bulletin.resubmit",
                     {"id": bid, "text": args["text"], "repeat": args["repeat"],
                      "interrupt": args["interrupt"], "chime": args["chime"],
                      "test": args["test"]})
    return bid
