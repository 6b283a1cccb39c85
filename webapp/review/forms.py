from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, TextAreaField
from wtforms.validators import Length, Optional


def common_reasons() -> list[tuple[str, str]]:
    """The usual reasons an entry goes back, offered first; free text can add detail."""
    return [
        ("", _l("Choose a common reason…")),
        ("photos", _l("Photos missing or unclear")),
        ("participants", _l("Participants are not right")),
        ("place_date", _l("Place or date is not right")),
        ("counts", _l("People or households reached look wrong")),
        ("summary", _l("The summary needs more detail")),
        ("duplicate", _l("This activity was already logged")),
    ]


class ReviewActionForm(FlaskForm):
    """Confirm, return or unconfirm one entry; return and unconfirm need a reason."""

    reason_choice = SelectField(
        _l("Common reason"), choices=common_reasons, validate_choice=True, default=""
    )
    reason_text = TextAreaField(
        _l("Reason"), validators=[Optional(), Length(max=400)], render_kw={"rows": 2}
    )
    revision = HiddenField()

    def reason(self) -> str:
        labels = dict(common_reasons())
        parts = [str(labels[self.reason_choice.data])] if self.reason_choice.data else []
        if self.reason_text.data and self.reason_text.data.strip():
            parts.append(self.reason_text.data.strip())
        return ". ".join(parts)


class BulkConfirmForm(FlaskForm):
    """Only the CSRF token: the selected ids come as repeated `ids` fields."""
