"""How every refusal and failure of the web layer is answered, app-wide.

Rules:
- ``/api/``, ``/staff/`` (the scripts' JSON) and ``/healthz`` get ``{"error": message}`` (plus
  ``fields`` when the error names form fields), every other path the error page.
- An ``AnnouncerError`` carries its own status (``status`` attribute, default 422)
  and a message staff understand; an HTTP error gets a Japanese message by code (or the
  description a view gave to ``abort``); a database that cannot be written (locked by
  another process, disk full) is 503 saying so; anything else is logged with its
  traceback and answered 500 without details.
"""

import logging
import sqlite3

from flask import jsonify, make_response, render_template, request
from werkzeug.exceptions import HTTPException

from announcer.core.errors import AnnouncerError, NothingToSay, SpeechError

log = logging.getLogger(__name__)

MESSAGES = {
    400: "リクエストの形式が正しくありません",
    401: "ログインしてください",
    403: "この操作はできません",
    404: "ページが見つかりません",
    405: "この操作はできません（方法が違います）",
    413: "送信された内容が大きすぎます",
    429: "操作が続きすぎています。少し待ってからもう一度操作してください",
    500: "サーバーの内部で問題が起きました。もう一度操作してください",
    503: "混み合っています。少し待ってからもう一度操作してください",
}
DATABASE = ("記録用のデータベースに書き込めないため、いまはこの操作ができません"
            "（ディスクの空き、またはほかのプログラムがデータベースを使っていないか確かめてください）。"
            "放送は続いています")
DESCRIPTIONS = {  # abort(code, description=KEY) → this message
    "CSRF": "画面の有効期限が切れました。ページを読み込み直してから、もう一度操作してください",
    "admin": "この画面は管理者だけが使えます。",
    "host": "このアドレスでは使えません。station.yaml の web.allowed_hosts に、"
            "ブラウザで開いているアドレスを加えてください。",
}


def _wants_json() -> bool:
    return request.path.startswith(("/api/", "/staff/", "/healthz"))


def answer(message: str, status: int, fields: dict | None = None):
    if _wants_json():
        body = {"error": message}
        if fields:
            body["fields"] = fields
        return make_response(jsonify(body), status)
    return make_response(render_template("error.html", message=message, status=status), status)


def announcer_error(exc: AnnouncerError):
    status = getattr(exc, "status", 422)
    message = str(exc)
    if isinstance(exc, SpeechError) and not isinstance(exc, NothingToSay):
        message = f"音声合成に失敗しました。記号や絵文字を減らしてください（{exc}）"
    return answer(message, status, getattr(exc, "fields", None))


def http_error(exc: HTTPException):
    code = exc.code or 500
    description = exc.description if isinstance(exc.description, str) else ""
    if description in DESCRIPTIONS:
        message = DESCRIPTIONS[description]
    elif description and description != type(exc).description:
        message = description  # a view's own words (abort(404, description=...))
    else:
        message = MESSAGES.get(code, MESSAGES[500] if code >= 500 else MESSAGES[400])
    resp = answer(message, code)
    if code == 405:
        resp.headers["Allow"] = ", ".join(getattr(exc, "valid_methods", None) or ())
    return resp


def unexpected(exc: Exception):
    if isinstance(exc, HTTPException):
        return http_error(exc)
    if isinstance(exc, sqlite3.OperationalError):
        log.error("Database not writable on %s %s: %s", request.method, request.path[:200], exc)
        return answer(DATABASE, 503)
    log.exception("Unexpected error on %s %s", request.method, request.path[:200])
    return answer(MESSAGES[500], 500)


def register(app) -> None:
    app.register_error_handler(AnnouncerError, announcer_error)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected)
