"""The wallet page's external wallet: open it, read its address and balance, top it up; refusals in
words with nothing changed."""

from decimal import Decimal

from django.test import override_settings

from audit.context import Actor
from tests.betting.test_challenges import snapshot
from tests.conftest import wallet_of
from wallet.external import external_wallet_open
from wallet.models import ExternalAccount

HTMX = {"HTTP_HX_REQUEST": "true"}


def test_no_external_wallet_offers_to_open_one_and_opening_shows_its_address(client, player):
    # given
    client.force_login(player)
    page = client.get("/wallet").content.decode()
    assert 'id="open-external"' in page and "You have no external wallet yet." in page
    assert "1,000.00" in page  # the platform balance as before
    # when
    opened = client.post("/wallet", {"action": "open_external"}, **HTMX).content.decode()
    # then
    account = ExternalAccount.objects.get(owner=player)
    assert f"Your external wallet is open: {account.address}." in opened
    assert f'id="external-address" class="address">{account.address}<' in opened
    assert '<span id="external-balance" class="money">0.00</span>' in opened and 'id="top_up-form"' in opened
    assert 'id="open-external"' not in opened


def test_a_top_up_raises_the_external_balance_only(client, player):
    # given
    external_wallet_open(user=player, actor=Actor.of(player))
    client.force_login(player)
    # when
    html = client.post("/wallet", {"action": "top_up", "top_up-amount": "25.50"}, **HTMX).content.decode()
    # then
    assert "Topped up your external wallet with 25.50." in html
    assert '<span id="external-balance" class="money">25.50</span>' in html
    assert ExternalAccount.objects.get(owner=player).balance == Decimal("25.50")
    assert wallet_of(player).balance == Decimal("1000.00")


def refused(client, data: dict, words: str) -> None:
    before = snapshot()
    html = client.post("/wallet", data, **HTMX).content.decode()
    assert words in html and 'class="error" role="alert"' in html, html[:3000]
    whole = client.post("/wallet", data)
    assert whole.status_code == 422 and words in whole.content.decode()
    assert snapshot() == before


def test_a_top_up_while_the_service_is_down_is_refused_in_words(client, player):
    external_wallet_open(user=player, actor=Actor.of(player))
    client.force_login(player)
    with override_settings(EXTERNAL_WALLET_AVAILABLE=False):
        refused(client, {"action": "top_up", "top_up-amount": "10.00"}, "The external wallet service is not answering")
        assert "not answering" in client.get("/wallet").content.decode()  # said on the page too


def test_opening_while_the_service_is_down_is_refused_in_words(client, player):
    client.force_login(player)
    with override_settings(EXTERNAL_WALLET_AVAILABLE=False):
        refused(client, {"action": "open_external"}, "The external wallet service is not answering")
    assert not ExternalAccount.objects.filter(owner=player).exists()


def test_a_bad_top_up_amount_is_refused(client, player):
    external_wallet_open(user=player, actor=Actor.of(player))
    client.force_login(player)
    refused(client, {"action": "top_up", "top_up-amount": "-5"}, "greater than or equal to 0")
    refused(client, {"action": "top_up", "top_up-amount": "0"}, "greater than zero")


def test_staff_cannot_open_an_external_wallet(client, make_user):
    client.force_login(make_user("trader", "tom"))
    refused(client, {"action": "open_external"}, "only player accounts")
