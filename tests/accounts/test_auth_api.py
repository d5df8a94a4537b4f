from django.contrib.auth import get_user_model

from audit.models import AuditLog
from ledger.models import Account
from tests.conftest import audit_rows

User = get_user_model()
REGISTRATION = {"username": "newplayer", "password": "correct-horse-battery",
                "email": "new@example.test", "country": "gb"}


def test_register_creates_a_player_with_an_empty_wallet(api, db):
    response = api().post("/api/v1/auth/register", REGISTRATION, format="json")
    assert response.status_code == 201, response.json()
    user = User.objects.get(username="newplayer")
    assert response.json() == {"id": user.pk, "username": "newplayer"}
    assert user.country == "GB"
    assert list(user.groups.values_list("name", flat=True)) == ["player"]
    assert user.password.startswith("argon2$")
    assert Account.objects.get(owner=user).balance == 0
    assert audit_rows("auth.register").get().actor == user


def test_register_refuses_a_taken_username_whatever_its_case(api, player):
    response = api().post("/api/v1/auth/register", {**REGISTRATION, "username": "PATRICIA"},
                          format="json")
    assert response.status_code == 409
    assert response.json()["error"] == "username_taken"


def test_register_refuses_a_weak_password_and_a_bad_country(api, db):
    weak = api().post("/api/v1/auth/register", {**REGISTRATION, "password": "12345678"},
                      format="json")
    assert weak.status_code == 400 and weak.json()["error"] == "weak_password"
    country = api().post("/api/v1/auth/register", {**REGISTRATION, "country": "1x"}, format="json")
    assert country.status_code == 400 and country.json()["error"] == "invalid_country"
    missing = api().post("/api/v1/auth/register", {"username": "x"}, format="json")
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    assert not User.objects.filter(username__in=["newplayer", "x"]).exists()


def test_token_login_and_me(api, player):
    response = api().post("/api/v1/auth/token",
                          {"username": "patricia", "password": "a-long-test-password"}, format="json")
    assert response.status_code == 200
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    me = client.get("/api/v1/me").json()
    assert me == {"id": player.pk, "username": "patricia", "roles": ["player"],
                  "balance": "1000.00", "currency": "PLAY"}
    login = audit_rows("auth.login").get()
    assert login.category == AuditLog.Category.SECURITY and login.actor == player


def test_failed_login_is_refused_and_recorded(api, player):
    response = api().post("/api/v1/auth/token", {"username": "patricia", "password": "wrong"},
                          format="json")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_credentials"
    failed = audit_rows("auth.login_failed", "refused").get()
    assert failed.resource_label == "patricia" and failed.actor is None


def test_session_login_is_recorded(client, player):
    response = client.post("/accounts/login/", {"username": "patricia",
                                                "password": "a-long-test-password"})
    assert response.status_code == 302
    assert audit_rows("auth.login").filter(actor=player).exists()
    assert client.get("/api/v1/me").json()["username"] == "patricia"


def test_me_needs_login(api, db):
    response = api().get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"


def test_a_token_authenticates_only_its_active_user(api, player):
    token = api().post("/api/v1/auth/token", {"username": "patricia", "password": "a-long-test-password"},
                       format="json").json()["token"]
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/me").json()["roles"] == ["player"]
    stranger = api()
    stranger.credentials(HTTP_AUTHORIZATION=f"Token {token[:-1]}x")
    unknown = stranger.get("/api/v1/me")
    assert unknown.status_code == 401 and unknown.json()["error"] == "not_authenticated"
    assert unknown.headers["WWW-Authenticate"] == "Token"
    User.objects.filter(pk=player.pk).update(is_active=False)
    inactive = client.get("/api/v1/me")
    assert inactive.status_code == 401 and inactive.json()["error"] == "not_authenticated"
