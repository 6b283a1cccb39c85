"""Forms of the roster pages; the unit choices come from the scope module (set by the view)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from webapp.members.services import FULL_NAME_MAX, POSITION_MAX, clean_phone


class MemberForm(FlaskForm):
    """Add (with a unit) or edit (without: moving is a transfer) one member."""

    unit = SelectField(_l("Unit"), coerce=int, validate_choice=True)
    full_name = StringField(
        _l("Full name"),
        validators=[
            DataRequired(message=_l("Enter the member's full name.")),
            Length(max=FULL_NAME_MAX),
        ],
        render_kw={"autocomplete": "off"},
    )
    is_party_member = BooleanField(_l("Party member"), default=True)
    position = StringField(_l("Position held"), validators=[Optional(), Length(max=POSITION_MAX)])
    phone = StringField(
        _l("Phone number"),
        validators=[Optional(), Length(max=30)],
        render_kw={"type": "tel", "inputmode": "tel", "autocomplete": "off"},
    )

    def validate_phone(self, field: StringField) -> None:
        _phone, error = clean_phone(field.data or "")
        if error:
            raise ValidationError(error)


class TransferForm(FlaskForm):
    unit = SelectField(_l("Move to"), coerce=int, validate_choice=True)


class ActionForm(FlaskForm):
    """Only the CSRF token: deactivate and reactivate."""


class UploadForm(FlaskForm):
    file = FileField(
        _l("Spreadsheet (.xlsx or .csv, at most 2 MB)"),
        validators=[FileRequired(message=_l("Choose a file to upload."))],
        render_kw={"accept": ".xlsx,.csv,text/csv"},
    )
    default_unit = SelectField(
        _l("Unit for rows that leave the unit empty"), coerce=int, validate_choice=True
    )


class ApplyForm(FlaskForm):
    """The previewed file comes back as repeated `content` fields (see roster_io)."""

    token = HiddenField(validators=[DataRequired()])
