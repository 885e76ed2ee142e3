"""Staff pages for bulletins: the status board and the emergency form, with the labels,
templates and error pages their JSON (``announcer.web.staff``) and the other staff
pages share.

Whatever staff typed reaches HTML only through Jinja's autoescape, and the scripts put
it on the page only with ``textContent``. The emergency form works without JavaScript
too (confirm and air are plain form posts); the scripts add templates, the reading,
the preview and a live status board.
"""

import re
import uuid

from flask import Blueprint, Response, current_app, g, redirect, render_template, request, url_for

from announcer.core.errors import SpeechError
from announcer.core.errors import BulletinError
from announcer.station.bulletins import MAX_BULLETIN
from announcer.studio.service import DRILL_PREFIX
from announcer.text.title import MAX_TITLE, TitleError, check_title, derive_title
from announcer.web.api import parse_bulletin
from announcer.web.auth import login_required
from announcer.web.board import ORDER_HINT, ORDER_RULE, board, sent_note, station_view
from announcer.web.preview import Busy, reading_slot

bp = Blueprint("pages", __name__)

# A blank is empty (【　　】) or named (【　地区名　】: the name between spaces). Staff
# must fill every blank before airing; in the form, filling a named blank fills every
# blank of that name (emergency.js). Keep in sync with BLANK in web/static/emergency.js.
BLANK = re.compile(r"【[\s　○〇＿_]*】|【[\s　]+[^\s　【】]{1,12}[\s　]+】")
_REQUEST_KEY = re.compile(r"[A-Za-z0-9-]{16,64}")


def _blank(name: str) -> str:
    return f"【　{name}　】"


_AREA, _PLACE = _blank("地区名"), _blank("避難場所")

# (label, script, drill, subject). {1} in a subject is what staff wrote into the
# script's first blank (emergency.js).
_SCRIPTS = (
    ("避難指示", "緊急放送、緊急放送。こちらは、真岡市役所です。"
     f"{_AREA}地区に、避難指示を発令しました。{_AREA}地区の方は、"
     f"直ちに{_PLACE}などの安全な場所へ避難してください。"
     "外に出るのが危険な場合は、建物の2階以上など、少しでも安全な場所に移ってください。", False),
    ("土砂災害", "緊急放送、緊急放送。こちらは、真岡市役所です。"
     f"{_AREA}地区に、土砂災害警戒情報が発表されました。がけや斜面の近くにお住まいの方は、"
     f"直ちに{_PLACE}へ避難してください。"
     "がけから小石が落ちる、わき水が濁るなどの前触れに注意してください。", False),
    ("地震", "緊急放送、緊急放送。こちらは、真岡市役所です。"
     f"ただいま、真岡市で震度{_blank('震度')}の地震がありました。まず、身の安全を確保してください。"
     "揺れがおさまったら、火の始末をし、倒れた家具や割れたガラスに注意してください。"
     "今後の情報に注意してください。", False),
    ("大雨・洪水", "緊急放送、緊急放送。こちらは、真岡市役所です。"
     f"大雨のため、{_blank('川の名前')}川の水位が上がり、氾濫の危険が高まっています。"
     f"{_AREA}地区の方は、直ちに{_PLACE}へ避難してください。"
     "川や用水路には、絶対に近づかないでください。", False),
    ("訓練/テスト", "こちらは、真岡市役所です。ただいまから、"
     f"{_blank('訓練の名前')}の訓練放送を行います。実際の災害ではありません。", True),
)
ROLE_NAMES = {"operator": "オペレーター", "admin": "管理者"}

_SUBJECTS = ("避難指示（{1}地区）", "土砂災害（{1}地区）", "地震（震度{1}）", "大雨・洪水（{1}川）",
             "訓練（{1}）")
TEMPLATES = tuple((*script, subject) for script, subject in zip(_SCRIPTS, _SUBJECTS))

# The header's menu: which entry a page belongs to (marked as the current page).
_SECTIONS = {"pages.index": "status", "pages.emergency": "emergency",
             "pages.emergency_post": "emergency", "audit.index": "audit",
             "reair.confirm": "status"}


def _services():
    return current_app.extensions["announcer"]


def _tz():
    return _services().config.station.timezone


@bp.app_context_processor
def inject():
    endpoint = request.endpoint or ""
    section = _SECTIONS.get(endpoint) or endpoint.split(".")[0]
    return {"station_name": _services().config.station.name, "section": section,
            "role_names": ROLE_NAMES}


# -- the status board ------------------------------------------------------------------
@bp.get("/")
@login_required()
def index():
    sent = request.args.get("sent")
    bulletin = station_view().bulletin(sent) if sent else None
    data = board()
    return render_template("index.html", board=data, sent=bulletin, order_rule=ORDER_RULE,
                           sent_note=sent_note(data, sent) if bulletin else "")


@bp.get("/about")
@login_required()
def about():
    """The voices and the credits their licences (CC BY 3.0) ask for."""
    return render_template("about.html", voices=_voices())


# -- the emergency form ----------------------------------------------------------------
def _form_fields(form) -> dict:
    """What the form showed, to show it again (also when invalid). A browser posts a
    textarea's line ends as CRLF; they count as one character each, as on screen."""
    return {"text": form.get("text", "").replace("\r\n", "\n"),
            "title": form.get("title", ""), "repeat": form.get("repeat", "2"),
            "timing": "after" if form.get("timing") == "after" else "now",
            "chime": form.get("chime") == "on", "test": form.get("test") == "on",
            "voice": form.get("voice", ""),
            "request_key": form.get("request_key") or uuid.uuid4().hex}


def _form_payload(fields: dict) -> dict:
    """Map the form's fields onto ``parse_bulletin``'s keys."""
    try:
        repeat = int(fields["repeat"])
    except ValueError:
        raise BulletinError("繰り返し回数は 1 から 5 までにしてください", 422) from None
    return {"text": fields["text"], "title": fields["title"], "repeat": repeat,
            "interrupt": fields["timing"] == "now", "chime": fields["chime"],
            "test": fields["test"], "voice": fields["voice"] or None}


def over_limit(text: str) -> str:
    """The message next to the script when it is too long ("" if it fits)."""
    over = len(text) - MAX_BULLETIN
    return (f"原稿が {over} 文字多すぎます（いま {len(text)} 文字、上限 {MAX_BULLETIN} 文字）。"
            "短くしてから確認へ進んでください" if over > 0 else "")


def blanks_left(blanks: int) -> str:
    return f"空欄【　　】が {blanks} か所残っています。すべて埋めてから確認へ進んでください"


def check_sendable(args: dict) -> dict:
    """Refuse what must never go on air from the form: unfilled blanks, a bad subject.
    Returns ``args`` with the subject filled in (derived when left empty)."""
    blanks = len(BLANK.findall(args["text"]))
    if blanks:
        raise BulletinError(blanks_left(blanks), 422)
    try:
        title = check_title(args.get("title") or "") or derive_title(args["text"])
    except TitleError as exc:
        raise BulletinError(str(exc), 422) from None
    return dict(args, title=title)


def no_store(resp: Response) -> Response:
    # A form restored from the browser cache would resend an old request_key.
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _form_page(fields: dict, error: str = "", status: int = 200):
    """The form; a problem of the script itself (too long, a blank left) is shown next
    to the script, any other at the top."""
    blanks = len(BLANK.findall(fields["text"]))
    text_error = over_limit(fields["text"]) or (error if blanks and error == blanks_left(blanks)
                                                else "")
    html = render_template("emergency.html", fields=fields, templates=TEMPLATES,
                           error="" if text_error else error, blanks=blanks,
                           max_chars=MAX_BULLETIN, max_title=MAX_TITLE, over=text_error,
                           order_hint=ORDER_HINT, voices=_voices())
    return no_store(Response(html, status))


def _blank_pieces(text: str) -> list[tuple[str, bool]]:
    """The text as (piece, is_blank) parts, so the confirmation can mark the blanks."""
    pieces, pos = [], 0
    for m in BLANK.finditer(text):
        pieces += [(text[pos:m.start()], False), (m.group(), True)]
        pos = m.end()
    return [p for p in pieces + [(text[pos:], False)] if p[0]]


def _confirm_page(args: dict, fields: dict):
    try:  # the whole script's reading, in the try-out slots like every other reading
        with reading_slot():
            reading, reading_error = bulletin_reading(args["text"]), ""
    except Busy:  # airing never waits for a reading
        reading, reading_error = "", "混み合っているため、いまは読みを表示できません。放送はできます。"
    except BulletinError as exc:  # show the problem; airing stays possible
        reading, reading_error = "", str(exc)
    # While staff read the confirmation, the first phrase is made: 放送する starts at once.
    _services().studio.prepare_bulletin(args["text"], drill=args["test"], voice=args.get("voice"))
    html = render_template("confirm.html", args=args, fields=fields, reading=reading,
                           voice=_services().studio.voice(args.get("voice")),
                           reading_error=reading_error, drill_prefix=DRILL_PREFIX,
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
        args = check_sendable(parse_bulletin(_form_payload(fields), _tz()))
        _services().station.validate_bulletin(args["text"], args["repeat"], args["test"],
                                              args["voice"])
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
    args = check_sendable(args)
    try:  # the station refuses the same key with another script (409)
        bid, created = s.station.submit_bulletin(**args, by=g.user["name"], request_key=key)
    except BulletinError as exc:
        if exc.status != 409:
            raise
        raise BulletinError("この画面の原稿はすでに送信済みです。新しい原稿は「緊急放送」を"
                            "開き直して入力してください", 409) from None
    s.accounts.audit(g.user["name"], "bulletin.submit" if created else "bulletin.resubmit",
                     {"id": bid, "title": args["title"], "text": args["text"],
                      "repeat": args["repeat"], "interrupt": args["interrupt"],
                      "chime": args["chime"], "test": args["test"],
                      "voice": s.station.bulletin(bid).get("voice")})
    return bid


def _voices() -> dict:
    """The voice choice every staff form shows: presets and the station's default."""
    studio = _services().studio
    return {"presets": sorted(studio.voices.values(), key=lambda v: v.id),
            "default": studio.voice(None)}
