"""Staff pages (placeholder until the emergency form lands)."""

from flask import Blueprint, render_template

from announcer.web.auth import login_required

bp = Blueprint("pages", __name__)


@bp.get("/")
@login_required()
def index():
    return render_template("base.html")
