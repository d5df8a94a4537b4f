from decimal import Decimal

from django.core.management import call_command
from django.utils import timezone

from events.models import Event
from ledger.models import Account, Transfer
from ledger.selectors import ledger_verify


def test_seed_demo_is_idempotent_and_leaves_a_clean_ledger(db, capsys):
    call_command("seed_demo")
    first = (Account.objects.count(), Transfer.objects.count(), Event.objects.count())
    out = capsys.readouterr().out
    call_command("seed_demo")
    assert (Account.objects.count(), Transfer.objects.count(), Event.objects.count()) == first
    assert first[2] == 4
    assert Event.objects.get(sport__key="basketball").players.count() == 10  # its rosters, for propositions
    for username in ("admin", "trader", "regulator", "compliance", "agent", "alice", "bob"):
        assert username in out
    assert Account.objects.get(owner__username="alice").balance == Decimal("10000.00")
    assert ledger_verify().ok


def test_home_and_login_pages_render(client, db):
    assert b"Odds Lab" in client.get("/").content
    assert client.get("/accounts/login/").status_code == 200
    stylesheet = client.get("/static/css/oddslab.css")  # served by WhiteNoise, no collectstatic
    assert stylesheet.status_code == 200 and b"tabular-nums" in b"".join(stylesheet.streaming_content)


def test_staff_read_the_ledger_and_audit_log_in_the_admin(client, db, player, make_user):
    regulator = make_user("regulator")
    client.force_login(regulator)
    for page in ("/admin/ledger/transfer/", "/admin/ledger/account/", "/admin/audit/auditlog/"):
        assert client.get(page).status_code == 200, page
    # the date drill-down groups by a truncated date: a parameter in SELECT and GROUP BY, which
    # server-side binding must still see as one expression
    today = timezone.now()
    for page in ("/admin/ledger/transfer/", "/admin/audit/auditlog/"):
        drill = f"{page}?created_at__year={today.year}&created_at__month={today.month}"
        assert client.get(drill).status_code == 200, drill
    transfer = Transfer.objects.first()
    detail = client.get(f"/admin/ledger/transfer/{transfer.pk}/change/")
    assert detail.status_code == 200 and b"Save" not in detail.content
    assert client.post(f"/admin/ledger/transfer/{transfer.pk}/delete/").status_code == 403


def test_players_cannot_enter_the_admin(client, player):
    client.force_login(player)
    assert client.get("/admin/").status_code == 302
