"""Re-air from the red card: a partial or failed airing of a bulletin (or of official
information) goes out again, the same script, after a confirm step.

Rules: ``/reair/<rowid>`` shows the confirm page (GET) and airs (POST). Only rows still
waiting on the red card (partial or failed, unacknowledged) of
an item the station knows as a bulletin; the confirm page shows exactly what will air
and focuses 「放送する」; airing makes a new bulletin linked to the first
(``Station.reair_bulletin``), acknowledges the row (the card goes) and is audited as
``bulletin.reair``. A form resent from the browser's history airs once (its key).
"""

import uuid

from flask import Blueprint, Response, current_app, g, redirect, render_template, request, url_for

from announcer.core.errors import BulletinError
from announcer.record.airlog_csv import KIND_LABELS, STATUS_LABELS, detail_words
from announcer.web.auth import login_required
from announcer.web.board import hms, station_view
from announcer.web.pages import no_store

bp = Blueprint("reair", __name__)


def _services():
    return current_app.extensions["announcer"]


def _waiting(rowid: int) -> tuple[dict, dict]:
    """(as-run row, bulletin) of a red card that can be aired again, else 404/409."""
    s = _services()
    row = next((a for a in s.station.needs_attention() if a["rowid"] == rowid), None)
    if row is None:
        raise BulletinError("確認を待っている放送ではありません（すでに確認済みかもしれません）", 404)
    b = station_view().bulletin(row["id"]) if row["kind"] in ("bulletin", "alert") else None
    if b is None:
        raise BulletinError("この放送は、ここからは放送し直せません", 409)
    return row, b


# One rule for both methods: two rules on one path answer 405, not 404, for an id beyond
# SQLite's range (tests/test_security.py).
@bp.route("/reair/<int:rowid>", methods=["GET", "POST"])
@login_required()
def confirm(rowid):
    if request.method == "POST":
        return air(rowid)
    row, b = _waiting(rowid)  # refusals are the app's error page (announcer.web.errors)
    tz = _services().config.station.timezone
    html = render_template(
        "reair.html", row=dict(row, time=hms(row["started_at"], tz),
                               kind_label=KIND_LABELS.get(row["kind"], row["kind"]),
                               status_label=STATUS_LABELS.get(row["status"], row["status"]),
                               detail=detail_words(row["detail"])),
        b=b, request_key=uuid.uuid4().hex)
    return no_store(Response(html))


def air(rowid):
    """The confirm page's 放送する (a POST to the same address)."""
    s, by = _services(), g.user["name"]
    row, b = _waiting(rowid)
    key = request.form.get("request_key", "")[:64] or None
    bid = s.station.reair_bulletin(b["id"], by, request_key=f"reair-{rowid}-{key}")
    s.station.acknowledge(rowid, by)
    s.accounts.audit(by, "bulletin.reair", {"id": bid, "reair_of": b["id"], "title": b["title"],
                                            "rowid": rowid})
    return redirect(url_for("pages.index", sent=bid), 303)
