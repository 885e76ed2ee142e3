"""The Flask application factory: ``create_app(services)`` builds the staff page and
the JSON API around the running station (no global app, no global state)."""

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, jsonify
from werkzeug.middleware.proxy_fix import ProxyFix

REPO_WEB = Path(__file__).resolve().parents[2] / "web"


@dataclass
class Services:
    config: object
    station: object  # announcer.station.service.Station
    studio: object  # announcer.studio.service.Studio
    accounts: object  # announcer.access.accounts.Accounts
    store: object  # announcer.record.store.Store
    clock: object
    monitor: object = None  # announcer.watch.monitor.service.Monitor, when monitor.device is set


def secret_key(config) -> bytes:
    """The session key: from ``web.secret_key_file`` or ``<data>/secret_key`` (made once,
    mode 0600), so sessions survive restarts and no key is ever committed."""
    path = config.web.secret_key_file or config.paths.data / "secret_key"
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(32))
    return path.read_bytes()


def create_app(services: Services, *, testing: bool = False) -> Flask:
    from announcer.web import (admin, alerts, api, audit, auth, errors, inputs, monitor,
                               notice_preview, notices, pages, public, readings, reair, staff,
                               timetable)

    web = services.config.web
    services.accounts.sessions.idle = web.session_idle
    services.accounts.sessions.lifetime = web.session_lifetime
    app = Flask(__name__, template_folder=str(REPO_WEB / "templates"),
                static_folder=str(REPO_WEB / "static"), static_url_path="/static")
    app.config.update(
        SECRET_KEY=secret_key(services.config),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_NAME="announcer_session",
        SESSION_COOKIE_SECURE=web.behind_tls_proxy,
        PERMANENT_SESSION_LIFETIME=web.session_lifetime,
        MAX_CONTENT_LENGTH=256 * 1024,
        ANNOUNCER_HOSTS=auth.allowed_hosts(web),
        TESTING=testing,
        JSON_AS_ASCII=False,
    )
    app.json.ensure_ascii = False
    app.extensions["announcer"] = services

    if web.behind_tls_proxy:  # only then is X-Forwarded-Proto the browser's word
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=0, x_proto=1, x_host=0)
    errors.register(app)
    inputs.bound_ints(app)  # before any rule is added

    @app.get("/healthz")
    def healthz():
        """Without a token or session: only whether the station is ok and on air."""
        health = services.station.health()
        if auth.current_user() is None and not auth.has_token():
            return jsonify(status=health["status"], on_air=bool(health.get("on_air")),
                           time=services.clock.now().isoformat(timespec="seconds"))
        return jsonify(health)

    @app.after_request
    def headers(resp):
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        resp.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
            "style-src 'self'; script-src 'self'; frame-ancestors 'none'")
        return resp

    app.register_blueprint(api.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(staff.bp)
    app.register_blueprint(reair.bp)
    app.register_blueprint(audit.bp)
    app.register_blueprint(notices.bp)
    app.register_blueprint(notice_preview.bp)
    app.register_blueprint(timetable.bp)
    app.register_blueprint(readings.bp)
    app.register_blueprint(monitor.bp)
    app.register_blueprint(alerts.bp)
    app.register_blueprint(admin.bp)
    inputs.register(app)  # after auth's Host check and login body limit, before any view
    app.register_blueprint(public.bp)  # /public/: no login (the published folder)
    return app


def services_of(app) -> Services:
    return app.extensions["announcer"]
