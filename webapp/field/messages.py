"""Texts the field app's JavaScript shows, translated on the server into the page's language.

The page carries them as a JSON data block, so the cached shell works offline in the language
it was last loaded in. Placeholders are `%(name)s`, filled in by static/js/i18n.js.
"""

from __future__ import annotations

from collections.abc import Callable

from flask_babel import gettext as _
from flask_babel import ngettext

# ngettext fills in its variables; this one puts the placeholder back for the page.
KEEP = {"n": "%(n)s"}


def _forms(translate: Callable[[int], str]) -> dict[str, str]:
    """English needs two forms, Vietnamese one; the page picks by count (i18n.js).

    Each caller spells out its own ngettext() call, so that Babel extracts the messages.
    """
    return {"one": translate(1), "other": translate(2)}


def client_messages() -> dict[str, str | dict[str, str]]:
    return {
        # Entry states (DESIGN.md §5), as badges.
        "state.local": _("On this phone"),
        "state.sending": _("Sending"),
        "state.sent": _("Sent"),
        "state.confirmed": _("Confirmed"),
        "state.returned": _("Returned"),
        "state.needs_attention": _("Needs attention"),
        # Saving.
        "saving": _("Saving…"),
        "saved": _("Saved on this phone"),
        "saved_skipped": _("Saved on this phone, without these photos: %(names)s"),
        "saved_edit": _("Changes saved on this phone; they will be sent again."),
        "storage_full": _(
            "The phone's storage is full, so this entry was not saved. Entries saved before are "
            "safe. Free some space (or send the waiting entries), then tap Save again."
        ),
        "save_failed": _("This entry could not be saved on the phone: %(reason)s"),
        "required.kind_id": _("Choose the kind of activity."),
        "required.occurred_on": _("Enter the date of the activity."),
        "future.occurred_on": _("The date cannot be in the future."),
        "required.unit_id": _("Choose the unit."),
        "required.summary": _("Write a short summary."),
        "whole_number": _("Enter a whole number (0 or more)."),
        "too_long": _("At most %(n)s characters."),
        "too_large": _("At most %(n)s."),
        "no_reference": _(
            "The lists this form needs are not on this phone yet. Open this page once with a "
            "connection while signed in."
        ),
        "loading": _("Loading…"),
        "signed_out_offline": _(
            "Nobody is signed in on this phone. Sign in (this needs a connection) to log entries."
        ),
        "entry_missing": _("This entry is not on this phone."),
        "not_editable": _("This entry can no longer be changed from the phone."),
        # Photos.
        "photo_processing": _("Preparing photos…"),
        "photo_skipped": _("This photo could not be read and was skipped: %(name)s"),
        "photo_remove": _("Remove photo %(name)s"),
        "photos_kept": _forms(
            lambda n: ngettext(
                "%(n)s photo saved with this entry earlier.",
                "%(n)s photos saved with this entry earlier.",
                n,
                **KEEP,
            )
        ),
        "photo_count": _forms(lambda n: ngettext("%(n)s photo", "%(n)s photos", n, **KEEP)),
        "photos_progress": _("Photos sent: %(sent)s of %(total)s"),
        "photo_problem": _("A photo was not accepted: %(reason)s"),
        # Place.
        "gps_working": _("Finding the position…"),
        "gps_done": _("Position recorded (within %(m)s m)."),
        "gps_failed": _("The position is not available. You can save without it."),
        "gps_denied": _("The phone did not allow access to the position. You can save without it."),
        "gps_none": _("No position recorded."),
        # Participants.
        "selected_count": _("%(n)s selected"),
        "no_match": _("Nobody on the roster matches “%(q)s”."),
        "you": _("(you)"),
        # Sync.
        "offline": _(
            "No connection. Entries are kept on this phone and sent when there is a connection."
        ),
        "waiting": _forms(
            lambda n: ngettext(
                "%(n)s entry waiting to be sent", "%(n)s entries waiting to be sent", n, **KEEP
            )
        ),
        "all_sent": _("Everything on this phone has been sent."),
        "syncing": _("Sending…"),
        "retry_at": _("The server could not be reached. Trying again at %(time)s."),
        "last_sync": _("Last sent: %(time)s"),
        "storage_used": _("Storage used on this phone: %(used)s"),
        "storage_persisted": _("The browser will keep this data."),
        "storage_not_persisted": _(
            "The browser may delete this data if the phone runs low on space: send entries "
            "when you can."
        ),
        # My entries.
        "reason": _("Reason: %(reason)s"),
        "edit": _("Edit"),
        "edit_resend": _("Edit and send again"),
        "participants_n": _forms(
            lambda n: ngettext("%(n)s person took part", "%(n)s people took part", n, **KEEP)
        ),
        "people_households": _("People reached: %(people)s · households: %(households)s"),
        "export_none": _("There is nothing unsent to download."),
        # Field names, for the server's per-field errors.
        "field.kind_id": _("Kind of activity"),
        "field.program_id": _("Programme"),
        "field.occurred_on": _("Date"),
        "field.unit_id": _("Unit"),
        "field.participant_ids": _("Participants"),
        "field.division_code": _("Commune"),
        "field.village": _("Village"),
        "field.lat": _("Position"),
        "field.lon": _("Position"),
        "field.accuracy_m": _("Position"),
        "field.people_reached": _("People reached"),
        "field.households_reached": _("Households reached"),
        "field.summary": _("Summary"),
        "field.notes": _("Notes"),
        "field.base_revision": _("Version"),
        "field.status": _("Status"),
        "field._schema": _("Entry"),
    }
