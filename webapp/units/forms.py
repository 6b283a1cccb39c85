"""Forms of the unit tree pages. Rules that need the database live in webapp.units.tree."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, Regexp

from webapp.units.services import CODE_MAX, NAME_MAX


def kind_choices() -> list[tuple[str, object]]:
    return [
        ("cell", _l("Party cell")),
        ("committee", _l("Party committee")),
        ("front", _l("Fatherland Front")),
        ("association", _l("Association")),
        ("commune", _l("Commune")),
        ("district", _l("District (intermediate level)")),
        ("province", _l("Province")),
    ]


def _name_field() -> StringField:
    return StringField(
        _l("Unit name"),
        validators=[DataRequired(message=_l("Enter a name.")), Length(max=NAME_MAX)],
        render_kw={"autocomplete": "off", "maxlength": NAME_MAX},
    )


class UnitForm(FlaskForm):
    """A new unit under a parent chosen on the tree (the parent's id rides in the URL)."""

    name = _name_field()
    kind = SelectField(_l("Kind of unit"), choices=kind_choices, validate_choice=True)
    division_code = StringField(
        _l("Official division code (optional)"),
        validators=[
            Optional(),
            Length(max=CODE_MAX),
            Regexp(r"^\d+$", message=_l("A division code is digits only.")),
        ],
        render_kw={"inputmode": "numeric", "autocomplete": "off", "maxlength": CODE_MAX},
    )


class RenameForm(FlaskForm):
    name = _name_field()


class MoveForm(FlaskForm):
    """The new parent, picked from search results shown as radio buttons."""

    new_parent = IntegerField(
        _l("New parent unit"),
        validators=[InputRequired(message=_l("Choose the unit to move it under."))],
    )


class ActionForm(FlaskForm):
    """Only the CSRF token: deactivate and reactivate carry no other data."""


class ImportForm(FlaskForm):
    province = SelectField(
        _l("Province"),
        validators=[DataRequired(message=_l("Choose a province."))],
        validate_choice=True,
    )
