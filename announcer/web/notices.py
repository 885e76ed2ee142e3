"""Staff pages for daily notices and the week's timetable (placeholder)."""

from flask import Blueprint, render_template

from announcer.web.auth import login_required

bp = Blueprint("notices", __name__)


@bp.get("/notices")
@login_required()
def index():
    return render_template("error.html", message="準備中です")


@bp.get("/timetable")
@login_required()
def timetable():
    return render_template("error.html", message="準備中です")
