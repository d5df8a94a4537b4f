"""Nobody changes, in the console, a user whose privileges equal or exceed their own (issue 13):
not the password, the details, the privileges, the account itself nor its API tokens."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from accounts.models import User
from accounts.selectors import user_may_manage
from audit.models import AuditLog
from tests.conftest import audit_rows

pytestmark = pytest.mark.django_db
NEW_PASSWORD = {"password1": "another-long-password-9", "password2": "another-long-password-9"}


def console_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def password_url(user) -> str:
    return reverse("admin:auth_user_password_change", args=[user.pk])


def user_state(user) -> tuple:
    user = User.objects.get(pk=user.pk)
    return (user.password, user.email, user.is_staff, user.is_superuser, user.is_active,
            sorted(user.groups.values_list("name", flat=True)))


def test_compliance_cannot_set_the_superusers_password(make_user):
    # given
    compliance, admin = make_user("compliance"), make_user("admin")
    client = console_of(compliance)
    before = user_state(admin)
    audit_count = AuditLog.objects.count()
    # when
    page = client.get(password_url(admin))
    post = client.post(password_url(admin), NEW_PASSWORD)
    # then
    assert page.status_code == 403 and post.status_code == 403
    assert user_state(admin) == before
    assert AuditLog.objects.count() == audit_count


@pytest.mark.parametrize("target_role", ["compliance", "trader", "regulator", "admin"])
def test_compliance_cannot_change_staff_or_an_equal(make_user, target_role):
    # given
    compliance, target = make_user("compliance"), make_user(target_role)
    client = console_of(compliance)
    before = user_state(target)
    change = reverse("admin:accounts_user_change", args=[target.pk])
    # when / then: the page is read-only, and a POST is refused
    page = client.get(change)
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert client.post(change, {"username": target.username, "email": "taken@example.test", "country": "GB",
                                "is_active": ""}).status_code == 403
    assert client.post(password_url(target), NEW_PASSWORD).status_code == 403
    assert user_state(target) == before


def test_compliance_sets_a_players_password_and_it_is_audited_without_the_hash(make_user):
    # given
    compliance, player = make_user("compliance"), make_user("player")
    old_hash = user_state(player)[0]
    # when
    response = console_of(compliance).post(password_url(player), {**NEW_PASSWORD, "usable_password": "true"})
    # then
    assert response.status_code == 302, response.content.decode()[:2000]
    player.refresh_from_db()
    assert player.check_password(NEW_PASSWORD["password1"])
    row = audit_rows("user.password_change").get()
    assert (row.category, row.resource_id, row.actor) == (AuditLog.Category.SECURITY, str(player.pk), compliance)
    assert row.details == {"change": "password changed"}
    assert old_hash not in str(row.details) and player.password not in str(row.details)


def test_a_change_is_audited_with_the_fields_it_changed(make_user):
    # given: the superuser edits a trader's e-mail and makes them compliance instead
    from django.contrib.auth.models import Group

    admin, trader = make_user("admin"), make_user("trader")
    compliance_group = Group.objects.get(name="compliance")
    # when
    response = console_of(admin).post(reverse("admin:accounts_user_change", args=[trader.pk]), {
        "username": trader.username, "email": "renamed@example.test", "country": "GB", "is_active": "on",
        "is_staff": "on", "groups": [compliance_group.pk],
        "last_login_0": "", "last_login_1": "", "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00"})
    # then
    assert response.status_code == 302
    row = audit_rows("user.change").get()
    assert row.category == AuditLog.Category.SECURITY and row.actor == admin
    assert row.details["before"]["email"] == trader.email
    assert row.details["after"]["email"] == "renamed@example.test"
    assert row.details["before"]["groups"] == ["trader"] and row.details["after"]["groups"] == ["compliance"]
    assert "password" not in row.details["before"] and "password" not in row.details["after"]
    assert "username" not in row.details["after"]  # unchanged fields are left out


def test_the_superuser_manages_staff_but_not_another_superuser_nor_itself(make_user):
    # given
    admin, other_admin, trader = make_user("admin"), make_user("admin"), make_user("trader")
    client = console_of(admin)
    # when / then
    assert client.post(password_url(other_admin), NEW_PASSWORD).status_code == 403
    assert client.post(password_url(admin), NEW_PASSWORD).status_code == 403
    assert client.post(reverse("admin:accounts_user_delete", args=[other_admin.pk]),
                       {"post": "yes"}).status_code == 403
    assert User.objects.filter(pk=other_admin.pk).exists()
    assert client.post(password_url(trader), {**NEW_PASSWORD, "usable_password": "true"}).status_code == 302
    # and its own password stays changeable on the admin's own page
    own = client.post(reverse("admin:password_change"), {"old_password": "a-long-test-password",
                                                          "new_password1": NEW_PASSWORD["password1"],
                                                          "new_password2": NEW_PASSWORD["password2"]})
    assert own.status_code == 302
    admin.refresh_from_db()
    assert admin.check_password(NEW_PASSWORD["password1"])


def test_a_deletion_is_audited(make_user):
    # given: an agent (no wallet to keep)
    admin, agent = make_user("admin"), make_user("agent")
    # when
    response = console_of(admin).post(reverse("admin:accounts_user_delete", args=[agent.pk]), {"post": "yes"})
    # then
    assert response.status_code == 302 and not User.objects.filter(pk=agent.pk).exists()
    row = audit_rows("user.delete").get()
    assert row.details["before"]["username"] == agent.username and row.details["after"] == {}


def test_user_may_manage_only_users_with_a_proper_subset_of_its_permissions(make_user):
    # given
    compliance, other, player, admin = (make_user("compliance"), make_user("compliance"), make_user("player"),
                                        make_user("admin"))
    player_with_more = make_user("player")
    player_with_more.user_permissions.add(Permission.objects.get(codename="add_user"))
    player_as_equal = make_user("player")
    player_as_equal.groups.add(*compliance.groups.all())
    # then
    assert user_may_manage(compliance, player)
    assert not user_may_manage(compliance, player_with_more)  # holds what compliance does not
    assert not user_may_manage(compliance, player_as_equal)  # holds exactly what compliance does
    assert not user_may_manage(compliance, other)
    assert not user_may_manage(compliance, compliance)
    assert not user_may_manage(player, make_user("player"))  # not staff: nobody
    assert user_may_manage(admin, compliance) and user_may_manage(admin, player_with_more)
    assert not user_may_manage(admin, admin) and not user_may_manage(admin, make_user("admin"))


def test_tokens_are_view_and_delete_only_for_users_one_may_manage(make_user):
    # given: tokens of a player and of another superuser
    admin, other_admin, player = make_user("admin"), make_user("admin"), make_user("player")
    player_token, admin_token = Token.objects.create(user=player), Token.objects.create(user=other_admin)
    client = console_of(admin)
    changelist = client.get(reverse("admin:authtoken_tokenproxy_changelist"))
    # then: the list shows whose tokens exist, not their keys, and not a superuser's
    assert changelist.status_code == 200
    content = changelist.content.decode()
    assert player.username in content and other_admin.username not in content
    assert player_token.key not in content
    # nobody creates a token for someone else
    assert client.get(reverse("admin:authtoken_tokenproxy_add")).status_code == 403
    assert client.post(reverse("admin:authtoken_tokenproxy_add"), {"user": player.pk}).status_code == 403
    # another superuser's token is refused
    delete_admin_token = reverse("admin:authtoken_tokenproxy_delete", args=[other_admin.pk])
    assert client.post(delete_admin_token, {"post": "yes"}).status_code == 403
    assert Token.objects.filter(key=admin_token.key).exists()
    # a player's token is revoked, audited, and its key is shown on no page
    page = client.get(reverse("admin:authtoken_tokenproxy_change", args=[player.pk]))
    assert page.status_code == 200 and player_token.key not in page.content.decode()
    delete_player_token = reverse("admin:authtoken_tokenproxy_delete", args=[player.pk])
    assert player_token.key not in client.get(delete_player_token).content.decode()
    assert client.post(delete_player_token, {"post": "yes"}).status_code == 302
    assert not Token.objects.filter(user=player).exists()
    assert audit_rows("auth.token_revoke").get().resource_id == str(player.pk)
