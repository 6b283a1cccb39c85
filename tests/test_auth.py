from __future__ import annotations

from tests.conftest import Auth, csrf_token_from
from tests.factories import PASSWORD


def test_sign_in_with_username_then_home_shows_role_page(world, auth: Auth, client):
    response = auth.login("canbo")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    assert "Nguyễn Văn An" in page


def test_sign_in_with_phone_number_in_any_format(world, auth: Auth):
    assert auth.login("+84 912 345 678").status_code == 302


def test_wrong_password_and_unknown_user_get_the_same_answer(world, auth: Auth):
    wrong = auth.login("canbo", "sai-mat-khau")
    unknown = auth.login("khong-co-ai", "sai-mat-khau")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_data(as_text=True).replace("canbo", "?") == unknown.get_data(
        as_text=True
    ).replace("khong-co-ai", "?")


def test_login_post_without_csrf_token_is_refused(world, client):
    response = client.post("/login", data={"login": "canbo", "password": PASSWORD})
    assert response.status_code == 400
