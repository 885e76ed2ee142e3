"""Admin pages: staff accounts (add, disable, reset the password, change the role,
remove) and API tokens (create with a name, scope and optional expiry; revoke).

Rules: admins only (operators get 403); every change goes through ``Accounts``, which
audits it and ends the sessions a change of a user makes stale. An admin cannot remove,
disable or demote themselves (so the station is never left without an admin by a
slip). A new token is shown once, on the answer to its creation, never again.
"""

import datetime as dt

from flask import (Blueprint, Response, current_app, flash, g, redirect, render_template,
                   request, url_for)

from announcer.access.accounts import ROLES, SCOPES, AccountError
from announcer.web.auth import login_required

bp = Blueprint("admin", __name__, url_prefix="/admin")

ROLE_LABELS = {"operator": "オペレーター（放送・お知らせ・読み辞書）",
               "admin": "管理者（さらにアカウント・トークン・操作の記録）"}
SCOPE_LABELS = {"bulletins": "緊急放送の送出・停止と読み取り", "read": "読み取りだけ"}


def _accounts():
    return current_app.extensions["announcer"].accounts


def _field(name: str, limit: int = 256) -> str:
    return request.form.get(name, "").strip()[:limit]


def _no_store(html: str, status: int = 200) -> Response:
    resp = Response(html, status)
    resp.headers["Cache-Control"] = "no-store"
    return resp


# -- staff accounts ------------------------------------------------------------------------
def _users_page(error: str = "", status: int = 200):
    return _no_store(render_template("admin_users.html", users=_accounts().users(),
                                     roles=ROLES, role_labels=ROLE_LABELS, error=error),
                     status)


@bp.get("/users")
@login_required(role="admin")
def users():
    return _users_page()


def _not_self(name: str, what: str) -> None:
    if name == g.user["name"]:
        raise AccountError(f"自分自身の{what}はできません（ほかの管理者に頼んでください）")


def _user_change(name: str, action: str) -> str:
    accounts, by = _accounts(), g.user["name"]
    if action == "add":
        accounts.add_user(_field("name", 80), request.form.get("password", "")[:300],
                          _field("role", 20), by=by)
        return f"ユーザー {_field('name', 80)} を追加しました"
    if action == "role":
        role = _field("role", 20)
        if role != "admin":
            _not_self(name, "役割の変更")
        accounts.set_role(name, role, by=by)
        return f"{name} の役割を変えました。{name} はログインし直す必要があります"
    if action == "password":
        accounts.set_password(name, request.form.get("password", "")[:300], by=by,
                              current=request.form.get("current_password", "")[:300])
        return f"{name} のパスワードを変えました。{name} のログインはすべて終了しました"
    if action in ("disable", "remove"):
        _not_self(name, "無効化や削除")
        if action == "remove":
            revoke = request.form.get("revoke_tokens") == "1"
            made = accounts.remove_user(name, by=by, revoke_tokens=revoke)
            return f"ユーザー {name} を削除しました" + _tokens_note(name, made, revoke)
        accounts.set_disabled(name, True, by=by)
        return (f"{name} を無効にしました（ログインできません）"
                + _tokens_note(name, accounts.tokens_by(name), False))
    accounts.set_disabled(name, False, by=by)
    return f"{name} を有効に戻しました"


def _tokens_note(name: str, made: list[str], revoked: bool) -> str:
    if not made:
        return ""
    names = "、".join(made)
    if revoked:
        return f"。{name} が作った API トークン（{names}）も無効にしました"
    return (f"。{name} が作った API トークン（{names}）は有効なままです。"
            "不要なら「API トークン」の画面で無効にしてください")


@bp.post("/users/add", defaults={"name": "", "action": "add"})
@bp.post("/users/<name>/<any(role, password, disable, enable, remove):action>")
@login_required(role="admin")
def change_user(name: str, action: str):
    try:
        message = _user_change(name, action)
    except AccountError as exc:
        return _users_page(str(exc), 422)
    flash(message)
    return redirect(url_for(".users"), 303)


# -- API tokens ----------------------------------------------------------------------------
def _revoked() -> list[dict]:
    """Tokens revoked (newest first), from the audit log: a revoked token no longer
    exists, but the page still says when it went and who revoked it."""
    from announcer.web.board import station_view

    tz = current_app.extensions["announcer"].config.station.timezone
    rows, _ = station_view().audit_page(action="token.revoke", per_page=50)
    return [{"name": r["detail"].get("name", ""), "who": r["who"],
             "when": dt.datetime.fromisoformat(r["at"]).astimezone(tz).strftime("%Y-%m-%d %H:%M")}
            for r in rows if isinstance(r["detail"], dict)]


def _tokens_page(error: str = "", status: int = 200, new_token: str = "", new_name: str = ""):
    return _no_store(render_template("admin_tokens.html", tokens=_accounts().tokens(),
                                     scopes=SCOPES, scope_labels=SCOPE_LABELS, error=error,
                                     new_token=new_token, new_name=new_name,
                                     revoked=_revoked()), status)


@bp.get("/tokens")
@login_required(role="admin")
def tokens():
    return _tokens_page()


def _expiry() -> dt.datetime | None:
    raw = _field("expires_days", 10)
    if not raw:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= 3650:
        raise AccountError("有効期限は 1 から 3650 日の数で書いてください（空なら無期限）")
    return current_app.extensions["announcer"].clock.now() + dt.timedelta(days=int(raw))


@bp.post("/tokens/create")
@login_required(role="admin")
def create_token():
    name = _field("name", 80)
    try:
        token = _accounts().create_token(name, by=g.user["name"], scope=_field("scope", 20),
                                         expires_at=_expiry())
    except AccountError as exc:
        return _tokens_page(str(exc), 422)
    return _tokens_page(new_token=token, new_name=name)


@bp.post("/tokens/<name>/revoke")
@login_required(role="admin")
def revoke_token(name: str):
    try:
        _accounts().revoke_token(name, by=g.user["name"])
    except AccountError as exc:
        return _tokens_page(str(exc), 404)
    flash(f"トークン {name} を無効にしました")
    return redirect(url_for(".tokens"), 303)
