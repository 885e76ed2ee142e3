"""Sessions for staff, bearer tokens for systems, CSRF and login throttling."""

import functools
import hmac
import secrets
import threading
import time
from collections import defaultdict, deque

from flask import (Blueprint, abort, current_app, g, jsonify, redirect, render_template,
                   request, session, url_for)

bp = Blueprint("auth", __name__)

MAX_FAILURES = 5  # per user name or per address …
WINDOW = 300.0  # … within this many seconds, then locked for the rest of the window


class Throttle:
    def __init__(self):
        self._fails: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque:
        q = self._fails[key]
        while q and now - q[0] > WINDOW:
            q.popleft()
        return q

    def locked(self, *keys: str) -> bool:
        now = time.monotonic()
        with self._lock:
            return any(len(self._recent(k, now)) >= MAX_FAILURES for k in keys)

    def fail(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for k in keys:
                self._recent(k, now).append(now)

    def clear(self, *keys: str) -> None:
        with self._lock:
            for k in keys:
                self._fails.pop(k, None)


def _services():
    return current_app.extensions["announcer"]


def _throttle() -> Throttle:
    return current_app.extensions.setdefault("announcer.throttle", Throttle())


# -- CSRF ------------------------------------------------------------------------------
def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def check_csrf() -> None:
    """400 unless the form field or X-CSRF-Token header matches the session's token."""
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token", "")
    expected = session.get("csrf", "")
    if not expected or not hmac.compare_digest(sent, expected):
        abort(400, description="CSRF")


@bp.app_context_processor
def inject():
    return {"csrf_token": csrf_token, "current_user": g.get("user")}


# -- staff sessions --------------------------------------------------------------------
def current_user() -> dict | None:
    name = session.get("user")
    if not name:
        return None
    user = _services().accounts.user(name)  # removed users lose their session at once
    if user is None:
        session.clear()
    return user


def login_required(role: str | None = None, api: bool = False):
    """Session check for staff views; unsafe methods also need the CSRF token."""
    def wrap(view):
        @functools.wraps(view)
        def inner(*args, **kwargs):
            g.user = current_user()
            if g.user is None:
                if api:
                    return jsonify(error="ログインしてください"), 401
                target = request.full_path if request.query_string else request.path
                return redirect(url_for("auth.login", next=target))
            if role == "admin" and g.user["role"] != "admin":
                return (jsonify(error="管理者だけが使えます"), 403) if api else abort(403)
            if request.method not in ("GET", "HEAD", "OPTIONS"):
                check_csrf()
            return view(*args, **kwargs)
        return inner
    return wrap


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("pages.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        check_csrf()
        name = request.form.get("name", "").strip()
        password = request.form.get("password", "")
        keys = (f"user:{name}", f"addr:{request.remote_addr}")
        accounts = _services().accounts
        if _throttle().locked(*keys):
            accounts.audit(name or "-", "login.locked", {"addr": request.remote_addr})
            error = "ログインの失敗が続いたため、しばらく（5 分）ログインできません"
            return render_template("login.html", error=error, name=name), 429
        user = accounts.verify(name, password)
        if user is None:
            _throttle().fail(*keys)
            accounts.audit(name or "-", "login.failed", {"addr": request.remote_addr})
            error = "名前かパスワードが違います"
            return render_template("login.html", error=error, name=name), 401
        _throttle().clear(*keys)
        session.clear()
        session["user"] = user["name"]
        session.permanent = True
        csrf_token()
        accounts.audit(user["name"], "login", {"addr": request.remote_addr})
        return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", error=error, name="")


@bp.post("/logout")
@login_required()
def logout():
    _services().accounts.audit(g.user["name"], "logout", {})
    session.clear()
    return redirect(url_for("auth.login"))


# -- API tokens ------------------------------------------------------------------------
def token_required(view):
    @functools.wraps(view)
    def inner(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        owner = None
        if scheme.lower() == "bearer" and token.strip():
            owner = _services().accounts.token_owner(token.strip())
        if owner is None:
            resp = jsonify(error="API トークンが必要です（Authorization: Bearer TOKEN）")
            resp.headers["WWW-Authenticate"] = 'Bearer realm="announcer"'
            return resp, 401
        g.user = {"name": f"token:{owner}", "role": "operator"}
        return view(*args, **kwargs)
    return inner
