"""Odd input refused at the door, for every route: before a view, a token check or a
synthesis has run, so nothing is stored and nothing is spent on it.

Rules:
- Text anywhere in a request (the path, query keys and values, header values such as
  ``Idempotency-Key``, form keys and values, upload file names, every string and key of a
  JSON body) may not hold a lone surrogate
  (``\\ud800``: it cannot be encoded, to the database or to the speech engine) nor a C0
  control character other than tab and newline (NUL and the like would air, land raw in
  pages and the CSV). A carriage return is accepted only before a newline: browsers send
  a textarea's line breaks as CRLF. DEL (U+007F) counts as a control too. Such a request
  is answered 400 with a message staff understand.
- A JSON body nested too deep to parse is 400 as well (Python's parser would raise
  RecursionError: a 500).
- Integer URL parts (``<int:…>``) stay within SQLite's INTEGER (at most 2**63-1): a
  larger number is a 404, like an id that does not exist, instead of an OverflowError.
"""

import re

from flask import abort, request
from werkzeug.routing import IntegerConverter

SQLITE_MAX = 2 ** 63 - 1
BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]|\r(?!\n)")
MESSAGE = ("使えない文字（制御文字や、文字として成り立たない符号）が含まれています。"
           "文章を貼り付け直すか、入力し直してください")


class BoundedInt(IntegerConverter):
    """``<int:…>`` bounded to what SQLite can store."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", SQLITE_MAX)
        super().__init__(map, *args, **kwargs)


def bad_text(value) -> bool:
    return isinstance(value, str) and BAD.search(value) is not None


def _bad_json(value) -> bool:
    """Any string or key in ``value`` bad (iterative: depth is the body's to choose)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if BAD.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _bad_pairs(pairs) -> bool:
    return any(bad_text(k) or bad_text(v) for k, v in pairs)


def refuse_odd_input():
    """``before_request``: abort 400 when the request carries odd text."""
    if bad_text(request.path) or _bad_pairs(request.args.items(multi=True)) \
            or _bad_pairs(request.headers.items()):
        abort(400, description=MESSAGE)
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        if _bad_pairs(request.form.items(multi=True)) or any(
                bad_text(f.filename) for _, f in request.files.items(multi=True)):
            abort(400, description=MESSAGE)
    elif request.is_json:
        try:
            body = request.get_json(silent=True)
        except RecursionError:
            abort(400)
        if _bad_json(body):
            abort(400, description=MESSAGE)


def bound_ints(app) -> None:
    """Install the bounded converter: call it before any rule is added."""
    app.url_map.converters["int"] = BoundedInt


def register(app) -> None:
    """Install the check: call it after the blueprints, so that the Host check and the
    login form's body limit (``auth.guard``) come first and the form is read after them."""
    app.before_request(refuse_odd_input)
