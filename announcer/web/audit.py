"""The audit log page (admins only): who did what, newest first, 50 rows a page,
filtered by date, person and action, in staff words: each action and each detail key
under its Japanese name, and a change (before → after, e.g. a notice file's YAML) as
the lines that went and came instead of two raw texts."""

import datetime as dt
import difflib

from flask import Blueprint, current_app, render_template, request

from announcer.web.auth import login_required
from announcer.web.board import station_view

bp = Blueprint("audit", __name__)

PER_PAGE = 50
ACTION_LABELS = {"login": "ログイン", "login.failed": "ログイン失敗",
                 "login.locked": "ログイン制限", "logout": "ログアウト",
                 "bulletin.preview": "試聴", "bulletin.submit": "緊急放送の送信",
                 "bulletin.resubmit": "二重送信（放送は1回）", "bulletin.stop": "緊急放送の停止",
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
                 "notice.stop": "お知らせの停止", "airlog.export": "放送記録の書き出し", "airlog.ack": "一部のみ・失敗の放送の確認",
                 "alert.approve": "気象庁の情報の承認", "alert.discard": "気象庁の情報の破棄",
                 "alert.stop": "気象庁の情報の停止", "bulletin.reair": "緊急放送の再放送"}
# The filter's groups (an action's first word).
GROUP_LABELS = {"bulletin": "緊急放送", "notice": "お知らせ", "reading": "読み辞書",
                "login": "ログイン", "user": "ユーザー", "token": "トークン",
                "airlog": "放送記録", "alert": "気象庁の情報"}
KEY_LABELS = {"id": "ID", "title": "件名", "text": "原稿", "repeat": "繰り返し",
              "interrupt": "今すぐ割り込む", "chime": "チャイム", "test": "訓練",
              "state": "そのときの状態", "name": "名前", "role": "役割", "addr": "接続元",
              "surface": "表記", "source": "複製元", "date": "日付", "month": "月",
              "rows": "行数", "reason": "理由", "expires_at": "有効期限", "file": "ファイル",
              "version": "版", "reair_of": "元の放送", "scope": "できること", "bulletin": "放送の ID",
              "rowid": "放送記録の番号"}
_WORDS = {True: "はい", False: "いいえ", None: "—"}


def _services():
    return current_app.extensions["announcer"]


def _value(v) -> str:
    if isinstance(v, bool) or v is None:
        return _WORDS[v]
    return str(v)


def diff_lines(before, after) -> list[tuple[str, str]]:
    """[(mark, line)]: "-" a line that went, "+" one that came, " " unchanged context
    (at most one line around each change)."""
    old, new = _value(before or "").splitlines(), _value(after or "").splitlines()
    out = []
    for group in difflib.SequenceMatcher(None, old, new).get_grouped_opcodes(1):
        if out:
            out.append(("…", ""))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out += [(" ", line) for line in old[i1:i2]]
                continue
            out += [("-", line) for line in old[i1:i2]]
            out += [("+", line) for line in new[j1:j2]]
    return out


SHORT = 60  # characters of a long value (a script) shown in the row; the rest folds away


# Values shown in words, as the admin pages show them (never a raw "operator").
VALUE_WORDS = {"role": {"operator": "オペレーター", "admin": "管理者"},
               "scope": {"bulletins": "緊急放送の送出・停止と読み取り", "read": "読み取りだけ"}}


def _fact(key: str, value) -> tuple[str, str, str]:
    """(label, what the row shows, the whole text when it was shortened else "")."""
    text = VALUE_WORDS.get(key, {}).get(value, None) if isinstance(value, str) else None
    text = text or _value(value)
    if len(text) <= SHORT + 10:
        return KEY_LABELS.get(key, key), text, ""
    return KEY_LABELS.get(key, key), f"{text[:SHORT]}…（全 {len(text)} 文字）", text


def _detail(detail: dict) -> tuple[list[tuple[str, str, str]], list | None]:
    items = [_fact(k, v) for k, v in detail.items() if k not in ("before", "after")]
    change = diff_lines(detail["before"], detail["after"]) \
        if "before" in detail or "after" in detail else None
    return items, change


def _rows(rows: list[dict]) -> list[dict]:
    tz = _services().config.station.timezone
    out = []
    for r in rows:
        detail = r["detail"] if isinstance(r["detail"], dict) else {"": r["detail"]}
        items, change = _detail(detail)
        out.append(dict(r, when=dt.datetime.fromisoformat(r["at"]).astimezone(tz)
                        .strftime("%Y-%m-%d %H:%M:%S"),
                        label=ACTION_LABELS.get(r["action"], r["action"]), facts=items,
                        change=change))
    return out


def _filters() -> tuple[dict, str]:
    args, error = request.args, ""
    raw = args.get("date", "")
    day = None
    if raw:
        try:
            day = dt.date.fromisoformat(raw)
        except ValueError:
            error = "日付は 2026-12-03 のように、年-月-日で選んでください"
    action = args.get("action", "")
    action = action if action in ACTION_LABELS or action in GROUP_LABELS else ""
    try:
        page = max(1, min(int(args.get("page", "1")), 10**6))
    except ValueError:
        page = 1
    return {"day": day, "who": args.get("who", "")[:64], "action": action, "page": page}, error


@bp.get("/audit")
@login_required(role="admin")
def index():
    f, error = _filters()
    view = station_view()
    rows, total = view.audit_page(day=f["day"], who=f["who"], action=f["action"],
                                  page=f["page"], per_page=PER_PAGE)
    pages = max(1, -(-total // PER_PAGE))
    query = {"date": f["day"].isoformat() if f["day"] else "", "who": f["who"],
             "action": f["action"]}
    return render_template("audit.html", rows=_rows(rows), total=total, page=f["page"],
                           pages=pages, query=query, error=error, people=view.audit_people(),
                           groups=GROUP_LABELS, actions=ACTION_LABELS)
