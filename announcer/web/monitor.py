"""The silence monitor on the status page: one JSON endpoint for the meter and the chart.

``GET /staff/monitor?minutes=60`` → ``{"enabled", "current": {...}, "history": {"step",
"start", "start_label", "end", "points": [[t, min, max], ...]}}`` (levels in dBFS, t in
epoch seconds; ``history=0`` leaves the history out).
The block on the page (``web/templates/_monitor.html``, ``web/static/monitor.js``) shows
only when ``monitor.device`` is set.
"""

import time

from flask import Blueprint, current_app, jsonify, request

from announcer.watch.monitor.history import label
from announcer.web.auth import login_required

bp = Blueprint("monitor", __name__)
RANGES = (60, 24 * 60, 7 * 24 * 60)  # minutes: 1 hour, 1 day, 7 days


def _monitor():
    return current_app.extensions["announcer"].monitor


def _tz():
    return current_app.extensions["announcer"].config.station.timezone


@bp.app_context_processor
def inject():
    return {"monitor_enabled": _monitor() is not None}


@bp.get("/staff/monitor")
@login_required(api=True)
def levels():
    monitor = _monitor()
    if monitor is None:
        return jsonify(enabled=False)
    try:
        minutes = int(request.args.get("minutes", RANGES[0]))
    except ValueError:
        minutes = RANGES[0]
    minutes = minutes if minutes in RANGES else RANGES[0]
    body = {"enabled": True, "current": monitor.current()}
    if request.args.get("history", "1") != "0":
        history = monitor.history.series(time.time(), minutes)
        history["start_label"] = label(history["start"], _tz(), minutes)
        body["history"] = history
    return jsonify(body)
