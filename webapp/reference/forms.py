"""Forms of the reference lists. Uniqueness and date order are checked in services."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from webapp.reference.services import CODE_MAX

_CODE_HINT = {"autocomplete": "off", "maxlength": CODE_MAX, "spellcheck": "false"}


class _NamedForm(FlaskForm):
    code = StringField(
        _l("Code"),
        validators=[DataRequired(message=_l("Enter a code.")), Length(max=CODE_MAX)],
        description=_l("Lower-case letters, digits, “_” or “-”, such as home_visit."),
        render_kw=_CODE_HINT,
    )
    name_vi = StringField(
        _l("Name in Vietnamese"),
        validators=[DataRequired(message=_l("Enter the Vietnamese name.")), Length(max=160)],
    )
    name_en = StringField(_l("Name in English"), validators=[Optional(), Length(max=160)])


class KindForm(_NamedForm):
    sort_order = IntegerField(
        _l("Order in lists"),
        default=0,
        validators=[Optional(), NumberRange(min=-9999, max=9999)],
        render_kw={"inputmode": "numeric"},
    )


class ProgramForm(_NamedForm):
    name_vi = StringField(
        _l("Name in Vietnamese"),
        validators=[DataRequired(message=_l("Enter the Vietnamese name.")), Length(max=200)],
    )
    name_en = StringField(_l("Name in English"), validators=[Optional(), Length(max=200)])
    starts_on = DateField(_l("Starts on"), validators=[Optional()])
    ends_on = DateField(_l("Ends on"), validators=[Optional()])


class ActionForm(FlaskForm):
    """Only the CSRF token, for activate and deactivate."""
