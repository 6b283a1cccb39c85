from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from webapp.models import ROLES
from webapp.users.services import role_label


def role_choices(up_to: str) -> list[SelectChoice]:
    """The roles someone holding `up_to` may give: their own and those below it."""
    return [SelectChoice(role, role_label(role)) for role in ROLES[: ROLES.index(up_to) + 1]]


class AccessForm(FlaskForm):
    """Role and scope of an account. The scope is one of the offered units, or another unit
    of the administrator's subtree typed by division code or name path."""

    role = SelectField(_l("Role"), validate_choice=True)
    scope_unit = SelectField(_l("Scope"), coerce=int, validate_choice=True)
    scope_other = StringField(
        _l("Or another unit (division code or name path)"),
        validators=[Optional(), Length(max=400)],
        render_kw={"placeholder": _l("e.g. 02266 or Tuyên Quang / Xã Lâm Bình")},
    )


class CreateAccountForm(AccessForm):
    member_id = HiddenField(validators=[DataRequired()])
    username = StringField(
        _l("Username"),
        validators=[DataRequired(message=_l("Enter a username.")), Length(max=64)],
        render_kw={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"},
    )


class ActionForm(FlaskForm):
    """A state-changing button: only the CSRF token."""
