"""Monthly tallies: the rollup, its checks, the tally page, targets and exports."""

from flask import Blueprint

bp = Blueprint("tallies", __name__, url_prefix="/tallies", template_folder="templates")
