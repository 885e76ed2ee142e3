"""Staff page for the reading dictionary (placeholder)."""

from flask import Blueprint, render_template

from announcer.web.auth import login_required

bp = Blueprint("readings", __name__)


@bp.get("/readings")
@login_required()
def index():
    return render_template("error.html", message="準備中です")
