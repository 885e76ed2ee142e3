"""``/public/``: the public folder (``publish.dir``) served read-only for a lobby screen.

Rules:
- No login, no session, no cookie: these views never touch ``session`` (their errors
  are plain text, not the staff error page; any other refusal's session is dropped).
  Only GET/HEAD.
- Only the files the publisher writes: ``index.html``, ``feed.xml``, ``style.css``,
  ``favicon.svg``,
  ``items/<name>.html``, ``audio/<name>.mp3``; names are checked against a pattern
  before any file system call (no dot files, no temp files, no traversal).
- Bounded: at most ``MAX_CONCURRENT`` public responses are prepared at once; past that
  the answer is an immediate 503 with ``Retry-After``, so a crowd at the lobby never
  takes the threads the staff and emergency paths need. Files go out through
  ``send_file`` (the server streams them; conditional requests get 304).
- Cache headers: pages and the feed ``max-age=60``; audio, named once and never
  rewritten, a day. A strict CSP, the same as the pages' own meta tag.
"""

import re
import threading

from flask import Blueprint, current_app, request, send_from_directory, session
from werkzeug.exceptions import NotFound

from announcer.publish.site import CSP

bp = Blueprint("public", __name__)
MAX_CONCURRENT = 4
_SLUG = r"[0-9]{8}-[0-9]{6}(?:-[0-9]{1,3})?"
_NAME = re.compile(rf"index\.html|feed\.xml|style\.css|favicon\.svg|items/{_SLUG}\.html"
                   rf"|audio/{_SLUG}\.mp3")
_TYPES = {".html": "text/html; charset=utf-8", ".xml": "application/rss+xml; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".mp3": "audio/mpeg", ".svg": "image/svg+xml"}


def _slots() -> threading.BoundedSemaphore:
    return current_app.extensions.setdefault("announcer.public_slots",
                                             threading.BoundedSemaphore(MAX_CONCURRENT))


@bp.get("/public/", defaults={"name": "index.html"})
@bp.get("/public/<path:name>")
def file(name):
    if not _NAME.fullmatch(name):
        return _plain("ページが見つかりません。", 404)
    slots = _slots()
    if not slots.acquire(blocking=False):
        resp = _plain("混み合っています。しばらくしてから開いてください。", 503)
        resp.headers["Retry-After"] = "5"
        return resp
    try:
        folder = current_app.extensions["announcer"].config.publish.dir
        resp = send_from_directory(folder, name, max_age=86400 if name.endswith(".mp3") else 60,
                                   mimetype=_TYPES[name[name.rfind("."):]],
                                   conditional=True, etag=True)
    except NotFound:
        return _plain("ページが見つかりません。", 404)
    finally:
        slots.release()
    return _public(resp)


def _plain(message: str, status: int):
    """Errors in plain text: the staff error page would start a session (a cookie)."""
    return _public(current_app.response_class(message, status,
                                              mimetype="text/plain; charset=utf-8"))


def _public(resp):
    resp.headers["Content-Security-Policy"] = CSP + "; frame-ancestors 'none'"
    if resp.status_code >= 400:
        resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.after_app_request
def _no_cookie(resp):
    """A refusal from outside these views (405 for a POST) is the staff error page, whose
    template starts a session: under /public/ that session is never sent."""
    if request.path.startswith("/public/") and resp.status_code >= 400:
        session.modified = False
    return resp
