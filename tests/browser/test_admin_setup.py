"""Issue 7 end to end: an administrator sets up a cell, its roster and a cadre's account on the
admin pages, and the cadre signs in with the temporary password (DESIGN.md §8).

Driven as a person would: links and buttons found by their accessible names, fields by their
labels, in Vietnamese (the default) as the app's catalog says them today.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from functools import partial

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Locator, Page

from tests.browser.axe import serious_violations
from tests.browser.phone import translated
from tests.browser.site import Site
from tests.factories import PASSWORD

# The admin pages and the first sign-in are looked at online; the offline machinery has its
# own tests.
pytestmark = pytest.mark.no_service_worker

PROVINCE, COMMUNE = "Tuyên Quang", "Xã Lâm Bình"
CELL = "Chi bộ thôn Thử Nghiệm"
CELL_PATH = f"{PROVINCE} / {COMMUNE} / {CELL}"  # as the template's help names a unit
CELL_CHOICE = f"{COMMUNE} / {CELL}"  # as the selects name it, below the admin's province
TEMPLATE_HEADERS = ["Đơn vị", "Họ và tên", "Đảng viên", "Chức vụ", "Số điện thoại"]
# (unit, full name, party member, position, phone) as typed in Excel. Hải's phone is the
# number 987654321: Excel drops the leading zero of 0987654321 unless the cell is text.
# Mai's row leaves the unit empty: it goes to the unit chosen on the upload form.
ROWS = [
    (CELL_PATH, "Đinh Văn Hải", "có", "Bí thư chi bộ", 987654321),
    (CELL_PATH, "Nông Thị Lan", "không", "Trưởng thôn", "0356 123 456"),
    (None, "Triệu Thị Mai", "có", None, None),
]
SHOWN = {"Đinh Văn Hải": "0987654321", "Nông Thị Lan": "0356123456", "Triệu Thị Mai": ""}
CADRE_NAME, CADRE_USERNAME = "Đinh Văn Hải", "hai.dv"
NEW_PASSWORD = "Nuong-ray-2025-moi"

Say = Callable[..., str]  # a message as the app says it in Vietnamese


def test_admin_creates_a_cell_imports_its_roster_and_its_cadre_signs_in(
    site: Site, page: Page
) -> None:
    t = partial(translated, site, "vi")

    sign_in_with_form(page, t, "quantri", PASSWORD)
    page.wait_for_url(re.compile(r"/$"))
    cell_id = create_cell(page, t)
    import_roster(page, t, cell_id)
    temporary = create_cadre_account(page, t)

    page.get_by_role("button", name=t("Sign out"), exact=True).click()
    page.wait_for_url(re.compile(r"/login\?signed_out=1$"))
    page.locator("#signin-notice").wait_for(state="visible")
    assert flash(page, t("You have signed out."))

    sign_in_with_form(page, t, CADRE_USERNAME, temporary)
    page.wait_for_url(re.compile(r"/account/password$"))
    # Nothing else opens until the temporary password is replaced.
    page.goto("/capture")
    page.wait_for_url(re.compile(r"/account/password$"))
    change_temporary_password(page, t, temporary)

    page.wait_for_url(re.compile(r"/$"))
    assert flash(page, t("Your password has been changed. Other devices are signed out."))
    assert page.get_by_role("heading", level=1).inner_text() == t("My recent entries")
    assert page.get_by_text(CELL, exact=True).is_visible()
    page.get_by_role("link", name=t("New entry"), exact=True).click()
    page.wait_for_url(re.compile(r"/capture$"))
    see_cell_on_capture(page, t)


# -- the steps ----------------------------------------------------------------------------------


def sign_in_with_form(page: Page, t: Say, login: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label(t("Username or phone number")).fill(login)
    page.get_by_label(t("Password"), exact=True).fill(password)
    page.get_by_role("button", name=t("Sign in"), exact=True).click()


def create_cell(page: Page, t: Say) -> int:
    """From the home page to the tree, to commune X, to the form; then the cell on the tree."""
    page.get_by_role("link", name=t("Administration"), exact=True).click()
    page.wait_for_url(re.compile(r"/admin/units/$"))
    assert heading(page) == t("Unit tree")
    page.get_by_role("link", name=COMMUNE, exact=True).click()
    page.wait_for_url(re.compile(r"/admin/units/\d+$"))
    assert heading(page) == COMMUNE
    page.get_by_role("link", name=t("Add a unit below"), exact=True).click()
    page.wait_for_url(re.compile(r"/admin/units/new\?parent=\d+$"))
    assert page.get_by_text(t("Under: %(parent)s", parent=f"{PROVINCE} / {COMMUNE}")).is_visible()
    page.get_by_label(t("Unit name")).fill(CELL)
    kind = page.get_by_label(t("Kind of unit"))
    assert kind.input_value() == "cell"  # what a commune's new unit most likely is
    page.get_by_role("button", name=t("Add unit"), exact=True).click()
    page.wait_for_url(re.compile(r"/admin/units/\d+$"))
    assert flash(page, t("%(unit)s added.", unit=CELL))
    assert heading(page) == CELL
    cell_id = int(page.url.rsplit("/", 1)[1])

    # Back on the tree, the commune's level below loads on opening and lists the new cell.
    page.get_by_role("link", name=t("Unit tree"), exact=True).click()
    page.wait_for_url(re.compile(r"/admin/units/$"))
    commune = page.locator("li.node").filter(has=page.get_by_role("link", name=COMMUNE, exact=True))
    commune.locator("summary").click()
    commune.get_by_role("link", name=CELL, exact=True).wait_for()
    assert commune.locator("details").get_attribute("data-state") == "loaded"
    assert serious_violations(page) == []
    return cell_id


def import_roster(page: Page, t: Say, cell_id: int) -> None:
    admin_section(page, t, "Rosters")
    page.wait_for_url(re.compile(r"/admin/members/$"))
    page.get_by_role("link", name=t("Import from Excel"), exact=True).click()
    page.wait_for_url(re.compile(r"/admin/members/import$"))

    with page.expect_download() as download:
        page.get_by_role("link", name=t("Download the Excel template"), exact=True).click()
    upload = roster_from_template(download.value.path().read_bytes())
    page.get_by_label(t("Spreadsheet (.xlsx or .csv, at most 2 MB)")).set_input_files(
        {
            "name": "danh-sach-thu-nghiem.xlsx",
            "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "buffer": upload,
        }
    )
    page.get_by_label(t("Unit for rows that leave the unit empty")).select_option(label=CELL_CHOICE)
    page.get_by_role("button", name=t("Preview"), exact=True).click()

    # The preview answers the upload's POST at the same address: wait for its heading, then
    # for the whole of that page.
    page.get_by_role("heading", level=1, name=t("Import preview"), exact=True).wait_for()
    page.wait_for_load_state()
    assert stat(page, t("To add")) == "3"
    assert stat(page, t("To update")) == "0"
    assert stat(page, t("Problems")) == "0"
    assert page.get_by_role("alert").count() == 0
    to_add = page.get_by_role("region", name=t("Rows to add"))
    assert table_rows(to_add, (0, 1, 2, 5)) == [
        [str(line), row[1], CELL_CHOICE, SHOWN[row[1]]] for line, row in enumerate(ROWS, start=2)
    ]
    assert serious_violations(page) == []

    page.get_by_role("button", name=t("Apply"), exact=True).click()
    page.wait_for_url(re.compile(rf"/admin/members/\?unit={cell_id}$"))
    assert flash(
        page,
        t(
            "Imported: %(created)d added, %(updated)d updated, %(unchanged)d unchanged.",
            created=3,
            updated=0,
            unchanged=0,
        ),
    )
    assert page.get_by_label(t("Unit"), exact=True).input_value() == str(cell_id)
    # The roster of the new cell names each unit below it: here, the cell itself.
    listed = page.get_by_role("region", name=t("Roster of party and association members"))
    assert sorted(table_rows(listed, (0, 1, 4))) == sorted(
        [name, CELL, phone] for name, phone in SHOWN.items()
    )


def create_cadre_account(page: Page, t: Say) -> str:
    """A cadre account for Hải, scoped to the new cell; returns the one-time password."""
    admin_section(page, t, "Accounts")
    page.wait_for_url(re.compile(r"/admin/accounts/$"))
    page.get_by_role("link", name=t("New account"), exact=True).click()
    page.get_by_label(t("Member's name or phone")).fill("dinh van hai")
    page.get_by_role("button", name=t("Search"), exact=True).click()
    page.wait_for_url(re.compile(r"/admin/accounts/new\?q="))
    page.get_by_role("link", name=f"{t('Choose')} {CADRE_NAME}", exact=True).click()
    page.wait_for_url(re.compile(r"/admin/accounts/new\?member=\d+$"))

    username = page.get_by_label(t("Username"), exact=True)
    assert username.input_value() == CADRE_USERNAME  # suggested from the name
    page.get_by_label(t("Role"), exact=True).select_option(label=t("Cadre, party member"))
    page.get_by_label(t("Scope"), exact=True).select_option(label=CELL_PATH)
    assert serious_violations(page) == []
    page.get_by_role("button", name=t("Create account"), exact=True).click()

    page.wait_for_url(re.compile(r"/admin/accounts/new$"))  # answered in place: shown once
    assert flash(page, t("Account created."))
    assert heading(page) == CADRE_NAME
    facts = dict(
        zip(
            page.locator(".account-facts dt").all_inner_texts(),
            page.locator(".account-facts dd").all_inner_texts(),
            strict=True,
        )
    )
    assert facts[t("Username")] == CADRE_USERNAME
    assert facts[t("Role")] == t("Cadre, party member")
    assert facts[t("Scope")] == CELL_PATH
    assert facts[t("Phone")] == SHOWN[CADRE_NAME]
    temporary = (
        page.get_by_role("region", name=t("Temporary password")).locator("code").inner_text()
    )
    assert len(temporary) >= 8 and temporary.strip() == temporary
    assert serious_violations(page) == []
    return temporary


def change_temporary_password(page: Page, t: Say, temporary: str) -> None:
    assert heading(page) == t("Choose a new password")
    page.get_by_label(t("Temporary password"), exact=True).fill(temporary)
    page.get_by_label(t("New password"), exact=True).fill(NEW_PASSWORD)
    page.get_by_label(t("New password again"), exact=True).fill(NEW_PASSWORD)
    page.get_by_role("button", name=t("Change password"), exact=True).click()


def see_cell_on_capture(page: Page, t: Say) -> None:
    """The field app offers the new cell and its roster, with the cadre ticked."""
    page.wait_for_selector("#capture-form[data-ready=yes]", state="attached")
    unit = page.locator("#unit_id")
    assert unit.locator("option:checked").inner_text() == CELL
    assert unit.locator("option").all_inner_texts() == [CELL]
    people = page.locator("#participant-list label").all_inner_texts()
    assert len(people) == len(SHOWN)
    for name in SHOWN:
        assert [label for label in people if label.startswith(name)], (name, people)
    me = page.get_by_role("checkbox", name=re.compile("^" + re.escape(CADRE_NAME)))
    assert me.is_checked()  # a new entry starts with its author taking part


# -- helpers --------------------------------------------------------------------------------


def roster_from_template(template: bytes) -> bytes:
    """The downloaded template filled in as a secretary would, cell by cell."""
    workbook = load_workbook(io.BytesIO(template))
    sheet = workbook.worksheets[0]
    headers = [cell.value for cell in sheet[1]]
    assert headers[: len(TEMPLATE_HEADERS)] == TEMPLATE_HEADERS
    for row, values in enumerate(ROWS, start=2):
        for column, value in enumerate(values, start=1):
            sheet.cell(row=row, column=column, value=value)
    phone = sheet.cell(row=2, column=TEMPLATE_HEADERS.index("Số điện thoại") + 1)
    assert phone.data_type == "n"  # stored as a number, as Excel does with 987654321
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def admin_section(page: Page, t: Say, name: str) -> None:
    sections = page.get_by_role("navigation", name=t("Administration"), exact=True)
    sections.get_by_role("link", name=t(name), exact=True).click()


def heading(page: Page) -> str:
    return page.get_by_role("heading", level=1).inner_text().strip()


def flash(page: Page, message: str) -> bool:
    return page.get_by_role("status").filter(has_text=message).count() == 1


def stat(page: Page, term: str) -> str:
    """The number beside `term` in the preview's summary."""
    box = page.locator("dl.stats > div").filter(
        has=page.locator("dt").get_by_text(term, exact=True)
    )
    return box.locator("dd").inner_text().strip()


def table_rows(region: Locator, cells: tuple[int, ...]) -> list[list[str]]:
    """The chosen cells of each body row of the table in `region`, as shown."""
    out = []
    for row in region.locator("tbody tr").all():
        texts = [text.strip() for text in row.locator("th, td").all_inner_texts()]
        out.append([texts[i] for i in cells])
    return out
