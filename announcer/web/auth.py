"""Who may use the page and the API: staff sessions, bearer tokens, CSRF, the Host
check and the login form.

Rules:
- A staff session is a server-side record (``announcer.access.sessions``); the signed cookie
  only carries its random id and the CSRF token. Logout ends the record.
- Pages need a session (``login_required``; admin pages ``role="admin"``); unsafe
  methods also need the CSRF token. ``/api/`` needs a bearer token of the right scope
  (``token_required``): ``read`` tokens may only read.
- A request whose Host is not in ``web.allowed_hosts`` (default: the configured host
  and the localhost names) is refused before any view runs: a page elsewhere that
  points a DNS name at this port (DNS rebinding) gets nothing.
- The login form is read only when its body is at most LOGIN_BODY bytes; names past
  MAX_NAME and passwords past MAX_PASSWORD fail without being hashed. Throttling is
  ``announcer.web.throttle``.
"""

import functools
import hmac
import math
import secrets
import socket
from urllib.parse import urlsplit

from flask import (Blueprint, abort, current_app, g, jsonify, redirect, render_template,
                   request, session, url_for)

from announcer.access.accounts import MAX_NAME
from announcer.web.throttle import Busy, LoginThrottle

bp = Blueprint("auth", __name__)
LOGIN_BODY = 4096
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")


def _services():
    return current_app.extensions["announcer"]


def throttle() -> LoginThrottle:
    return current_app.extensions.setdefault("announcer.throttle", LoginThrottle())


# -- the Host allow-list -----------------------------------------------------------------
def allowed_hosts(web_config) -> set[str]:
    """``web.allowed_hosts``, or the configured host and the localhost names (and, when
    listening on every interface, this machine's own names and addresses)."""
    if web_config.allowed_hosts:
        return {h.lower() for h in web_config.allowed_hosts}
    hosts = {web_config.host.lower(), *LOCAL_HOSTS}
    if web_config.host in ("0.0.0.0", "::", ""):
        hosts |= _own_names()
    return hosts


def _own_names() -> set[str]:
    name = socket.gethostname().lower()
    names = {name, f"{name}.local"}
    try:
        for info in socket.getaddrinfo(name, None):
            address = info[4][0]
            names.add(f"[{address}]" if ":" in address else address)
    except OSError:
        pass
    return names


@bp.before_app_request
def guard():
    host = request.host.lower()
    if host.startswith("["):
        name = host[:host.find("]") + 1]
    else:
        name = host.rsplit(":", 1)[0]
    if name not in current_app.config["ANNOUNCER_HOSTS"] and \
            host not in current_app.config["ANNOUNCER_HOSTS"]:
        abort(400, description="host")
    if request.path == "/login" and request.method == "POST":
        request.max_content_length = LOGIN_BODY


# -- CSRF ------------------------------------------------------------------------------
def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def check_csrf() -> None:
    """400 unless the form field or X-CSRF-Token header matches the session's token."""
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token", "")
    expected = session.get("csrf", "")
    if not expected or not hmac.compare_digest(sent.encode("utf-8", "replace"),
                                               expected.encode("utf-8", "replace")):
        abort(400, description="CSRF")


@bp.app_context_processor
def inject():
    return {"csrf_token": csrf_token, "current_user": g.get("user")}


# -- staff sessions --------------------------------------------------------------------
def current_user() -> dict | None:
    accounts = _services().accounts
    name = accounts.sessions.user_of(session.get("sid"))
    user = accounts.user(name) if name else None  # removed or disabled: out at once
    if user is None and session:
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
                return redirect(url_for("auth.login", next=_safe_next(request.full_path)))
            if role == "admin" and g.user["role"] != "admin":
                abort(403, description="admin")
            if request.method not in ("GET", "HEAD", "OPTIONS"):
                check_csrf()
            return view(*args, **kwargs)
        return inner
    return wrap


def _safe_next(target: str | None) -> str:
    """A path on this site, else the status page: no scheme, no host, no ``//`` or
    ``/\\`` (browsers read both as another host), no control characters."""
    default = url_for("pages.index")
    if not isinstance(target, str) or not target.startswith("/") or len(target) > 2000:
        return default
    if target.endswith("?"):
        target = target[:-1]
    if any(ord(c) < 0x21 or c == "\x7f" or c == "\\" for c in target):
        return default
    if target.startswith("//") or "%" in target.split("?")[0].lower().replace("%20", ""):
        return default  # an encoded tab, newline or slash in the path: not worth the risk
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def _login_page(error: str, name: str, status: int, wait: float = 0.0):
    resp = current_app.make_response(
        (render_template("login.html", error=error, name=name), status))
    if wait:
        resp.headers["Retry-After"] = str(math.ceil(wait))
    return resp


def _wait_message(wait: float) -> str:
    seconds = math.ceil(wait)
    shown = f"{seconds} 秒" if seconds < 120 else f"{math.ceil(seconds / 60)} 分"
    return f"パスワードの間違いが続いたため、この名前はあと {shown}ログインできません。待ってからもう一度入力してください"


def _audit_failure(addr: str, name: str) -> None:
    accounts = _services().accounts
    allowed, left_out, first = throttle().audit_allowed(addr)
    if left_out:
        accounts.audit("-", "login.flood", {"left_out": left_out})
    if first:
        accounts.audit("-", "login.flood", {"addr": addr, "note": "以降 5 分間のログイン失敗は件数だけ記録します"})
    if allowed:
        accounts.audit(name or "-", "login.failed", {"addr": addr})


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        return render_template("login.html", error=None, name="")
    check_csrf()
    addr = (request.remote_addr or "-")[:64]
    name = request.form.get("name", "").strip()[:MAX_NAME + 1]
    password = request.form.get("password", "")
    shown = name[:MAX_NAME]
    wait = throttle().wait(addr, shown)
    if wait > 0:
        return _login_page(_wait_message(wait), shown, 429, wait)
    accounts = _services().accounts
    try:
        user = throttle().check(addr, lambda: accounts.verify(name, password))
    except Busy as busy:
        return _login_page("ログインが混み合っています。数秒待ってからもう一度押してください",
                           shown, 503, busy.retry)
    if user is None:
        delay = throttle().failed(addr, shown)
        _audit_failure(addr, shown if len(name) <= MAX_NAME else shown + "…")
        error = "名前かパスワードが違います"
        if delay >= 1:
            error += f"。この名前は {math.ceil(delay)} 秒後から、もう一度入力できます"
        return _login_page(error, shown, 401)
    throttle().succeeded(addr, user["name"])
    session.clear()
    session["sid"] = accounts.sessions.begin(user["name"], addr)
    session.permanent = True
    csrf_token()
    accounts.audit(user["name"], "login", {"addr": addr})
    return redirect(_safe_next(request.args.get("next")))


@bp.post("/logout")
@login_required()
def logout():
    accounts = _services().accounts
    accounts.sessions.end(session.get("sid"))
    accounts.audit(g.user["name"], "logout", {})
    session.clear()
    return redirect(url_for("auth.login"))


# -- API tokens ------------------------------------------------------------------------
def _bearer() -> dict | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return _services().accounts.token(value.strip())
    return None


def has_token() -> bool:
    return _bearer() is not None


def token_required(scope: str = "read"):
    """Bearer token check for ``/api/``: ``scope="bulletins"`` views refuse ``read``
    tokens. Used bare (``@token_required``, as before scopes) it takes the strict one."""
    if callable(scope):
        return token_required("bulletins")(scope)

    def wrap(view):
        @functools.wraps(view)
        def inner(*args, **kwargs):
            token = _bearer()
            if token is None:
                resp = jsonify(error="API トークンが必要です（Authorization: Bearer TOKEN）")
                resp.headers["WWW-Authenticate"] = 'Bearer realm="announcer"'
                return resp, 401
            if scope == "bulletins" and token["scope"] != "bulletins":
                return jsonify(error="このトークンは読み取り専用です（scope: read）"), 403
            g.user = {"name": f"token:{token['name']}", "role": "operator"}
            return view(*args, **kwargs)
        return inner
    return wrap
