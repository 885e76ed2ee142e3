"""The audit log page (admins only): who did what on a given day, newest last, each
action under the name staff know it by."""

import datetime as dt

from flask import Blueprint, current_app, render_template, request

from announcer.web.auth import login_required

bp = Blueprint("audit", __name__)

ACTION_LABELS = {"login": "ログイン", "login.failed": "ログイン失敗",
                 "login.locked": "ログイン制限", "logout": "ログアウト",
                 "bulletin.preview": "試聴", "bulletin.submit": "緊急放送の送信",
                 "bulletin.resubmit": "二重送信（放送は1回）", "bulletin.stop": "停止",
                 "login.flood": "ログイン失敗の多発（記録を省略）",
                 "user.add": "ユーザー追加", "user.remove": "ユーザー削除",
                 "user.role": "役割の変更", "user.password": "パスワードの変更",
                 "user.disable": "ユーザー無効化", "user.enable": "ユーザー再有効化",
                 "token.create": "トークン発行", "token.revoke": "トークン失効",
                 "reading.add": "読みの追加", "reading.edit": "読みの修正",
                 "reading.delete": "読みの削除",
                 "notice.create": "お知らせの追加", "notice.edit": "お知らせの修正",
                 "notice.duplicate": "お知らせの複製", "notice.pause": "お知らせの一時停止",
                 "notice.resume": "お知らせの再開", "notice.delete": "お知らせの削除",
                 "airlog.export": "放送記録の書き出し",
                 "alert.approve": "気象庁の情報の承認", "alert.discard": "気象庁の情報の破棄"}


def _services():
    return current_app.extensions["announcer"]


def _rows(day: dt.date) -> list[dict]:
    s = _services()
    tz = s.config.station.timezone
    return [dict(r, when=dt.datetime.fromisoformat(r["at"]).astimezone(tz)
                 .strftime("%Y-%m-%d %H:%M:%S"),
                 label=ACTION_LABELS.get(r["action"], r["action"]))
            for r in s.accounts.audit_log(day)]


@bp.get("/audit")
@login_required(role="admin")
def index():
    s = _services()
    raw = request.args.get("date", "")
    error = ""
    try:
        day = dt.date.fromisoformat(raw) if raw else s.clock.now().date()
    except ValueError:
        day, error = s.clock.now().date(), "日付は YYYY-MM-DD で指定してください"
    return render_template("audit.html", rows=_rows(day), day=day, error=error)
