"""The player's Casino page (issue 18): dice and roulette played through the page's forms, the last
rounds and the running net result, the seed pair (client seed set, rotation revealing the server seed),
the "How to verify" snippet (run here: it must print the round's outcome), refusals in the service's
words with nothing written, and what staff and anonymous visitors get."""

from __future__ import annotations

import contextlib
import html
import io
import re
from decimal import ROUND_DOWN, Decimal

import pytest

from audit.context import Actor
from casino.models import Round, SeedPair
from casino.services import casino_round_play
from ledger.models import Account
from risk.safer import self_exclude
from tests.casino.helpers import (
    CLIENT_SEED,
    SERVER_SEED,
    known_seeds,
    losing_dice,
    reference_number,
    roll_of,
    winning_dice,
)

URL = "/casino"
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def player_in(client, make_user):
    player = make_user("player", "casper", balance="100.00")
    client.force_login(player)
    return player


def balance_of(player) -> Decimal:
    return Account.objects.get(owner=player).balance


def dice(client, *, stake="1.00", target="49.50", direction="under", htmx=True, **extra):
    data = {"stake": stake, "target": target, "direction": direction, **extra}
    return client.post("/casino/dice", data, **(HTMX if htmx else {}))


def roulette(client, rows: list[tuple[str, str, str]], htmx=True):
    data = {"bet_rows": str(len(rows))}
    for index, (kind, value, stake) in enumerate(rows):
        data.update({f"bet-{index}-type": kind, f"bet-{index}-value": value, f"bet-{index}-stake": stake})
    return client.post("/casino/roulette", data, **(HTMX if htmx else {}))


def panel(response) -> str:
    """An htmx answer: the panel (never a whole page), 200 even for a refusal (htmx swaps only 2xx)."""
    assert response.status_code == 200
    text = response.content.decode()
    assert "<html" not in text and 'id="casino-panel"' in text
    return text


def text_of(page: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</', page, re.S)
    assert found, f"no #{element_id}"
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip()


def test_the_page_shows_both_games_the_seed_pair_and_no_server_seed(client, player_in):
    # when
    response = client.get(URL)
    # then
    assert response.status_code == 200
    page = response.content.decode()
    pair = SeedPair.objects.get(player=player_in, revealed_at__isnull=True)
    assert text_of(page, "server-seed-hash") == pair.server_seed_hash
    assert text_of(page, "client-seed") == pair.client_seed and text_of(page, "next-nonce") == "0"
    assert pair.server_seed not in page  # secret until rotated
    for form in ("dice-form", "roulette-form", "client-seed-form", "rotate-form"):
        assert f'id="{form}"' in page
    # the dice odds as casino.fairness has them: under 49.50 wins 49.50% of rolls, 99 / 49.5 = 2
    assert text_of(page, "dice-chance") == "49.50%" and text_of(page, "dice-multiplier") == "2.0000×"
    assert 'id="no-rounds"' in page and text_of(page, "casino-net") == "0.00"
    assert 'id="casino-verify"' in page and "hmac.new(" in page
    assert 'href="/casino"' in page  # the header's link


def test_the_dice_odds_follow_the_target_typed(client, player_in):
    # when
    over = client.get("/casino/dice/odds", {"stake": "10", "target": "25.00", "direction": "over"}).content.decode()
    too_likely = client.get("/casino/dice/odds", {"target": "99.00", "direction": "under"}).content.decode()
    # then: over 25.00 wins on 25.01..99.99, 74.99% of rolls; 99 / 74.99 floored to four decimals
    multiplier = (Decimal(99) / Decimal("74.99")).quantize(Decimal("0.0001"), rounding=ROUND_DOWN)
    assert text_of(over, "dice-chance") == "74.99%" and text_of(over, "dice-multiplier") == f"{multiplier}×"
    assert text_of(over, "dice-payout") == f"{(10 * multiplier).quantize(Decimal('0.01'), rounding=ROUND_DOWN)}"
    assert "98.00%" in too_likely and 'id="dice-chance"' not in too_likely


def test_a_dice_roll_through_the_page_is_a_round_in_the_list_and_the_net(client, player_in):
    # given: known seeds, so the roll to come is known
    known_seeds(player_in)
    direction, target = winning_dice(roll_of(0))
    # when
    page = panel(dice(client, stake="2.00", target=target, direction=direction))
    # then
    played = Round.objects.get(player=player_in)
    assert (played.game, played.nonce, played.roll, played.won) == ("dice", 0, roll_of(0), True)
    assert played.stake == Decimal("2.00") and played.payout > played.stake
    assert f'id="round-{played.pk}"' in page and f"rolled <strong class=\"roll\">{roll_of(0)}</strong>" in page
    assert text_of(page, "casino-net") == f"{played.payout - played.stake:,.2f}"
    assert text_of(page, "next-nonce") == "1"
    assert balance_of(player_in) == Decimal("100.00") - played.stake + played.payout
    assert 'id="header-balance"' in page and 'hx-swap-oob="true"' in page  # the header's balance follows
    # a second, losing roll: the net adds up both
    direction, target = losing_dice(roll_of(1))
    page = panel(dice(client, stake="3.00", target=target, direction=direction))
    rounds = list(Round.objects.filter(player=player_in))
    net = sum((r.payout - r.stake for r in rounds), Decimal("0.00"))
    assert text_of(page, "casino-net") == f"{net:,.2f}" and text_of(page, "rounds-played") == "2"
    assert page.index(f'id="round-{rounds[0].pk}"') < page.index(f'id="round-{rounds[1].pk}"')  # newest first


def test_without_htmx_a_roll_redirects_to_the_page(client, player_in):
    response = dice(client, htmx=False)
    assert response.status_code == 302 and response["Location"] == URL
    assert Round.objects.filter(player=player_in).count() == 1


def test_a_double_click_plays_one_round(client, player_in):
    # given: the form's key, sent twice
    first = panel(dice(client, idempotency_key="same-form"))
    again = panel(dice(client, idempotency_key="same-form"))
    # then
    assert Round.objects.filter(player=player_in).count() == 1
    assert "Already played" in again and "Already played" not in first


def test_a_spin_with_several_bets_pays_each_as_the_table_says(client, player_in):
    # given
    known_seeds(player_in)
    number = reference_number(SERVER_SEED, CLIENT_SEED, 0)
    # when: red, a straight on the number to come, its dozen, and an empty row
    dozen = str((number - 1) // 12 + 1) if number else "1"
    page = panel(roulette(client, [("red", "", "1.00"), ("straight", str(number), "2.00"), ("dozen", dozen, "1.50"),
                                   ("", "", "")]))
    # then
    spin = Round.objects.get(player=player_in)
    assert (spin.game, spin.number, spin.stake) == ("roulette", number, Decimal("4.50"))
    red = {1, 3, 5, 7, 9, 12, 14, 16, 18, 19, 21, 23, 25, 27, 30, 32, 34, 36}
    expected = Decimal("72.00") + (Decimal("2.00") if number in red else 0) + (Decimal("4.50") if number else 0)
    assert spin.payout == expected and spin.won
    assert [bet["type"] for bet in spin.bets] == ["red", "straight", "dozen"]
    assert f'id="round-{spin.pk}"' in page and "the ball landed on" in page


@pytest.mark.parametrize(("post", "code_words"), [
    (lambda c: dice(c, stake="500.00"), "balance is too low"),  # more than the balance
    (lambda c: dice(c, stake="0.01"), "minimum stake"),  # the casino's minimum
    (lambda c: dice(c, target="99.50"), "win chance"),  # under 99.50: 99.5% is over the 98% maximum
    (lambda c: dice(c, direction="sideways"), "under"),
    (lambda c: dice(c, stake="ten"), "stake: that is not a number"),  # led by the field it is about
    (lambda c: roulette(c, [("", "", "")]), "bets"),  # nothing bet
    (lambda c: roulette(c, [("straight", "37", "1.00")]), "0 to 36"),
    (lambda c: roulette(c, [("dozen", "1", "1.00"), ("red", "", "1.005")]), "bet 2, stake: the amount can have at"),
    # an empty row between: the refusal names the form's row, not the bet's place among those sent
    (lambda c: roulette(c, [("red", "", "1.00"), ("", "", ""), ("column", "4", "1.00")]), "bet 3, value: a column"),
])
def test_a_refusal_is_shown_in_the_services_words_and_nothing_is_written(client, player_in, post, code_words):
    # given
    pair = SeedPair.objects.get(pk=known_seeds(player_in).pk)
    # when
    page = panel(post(client))
    # then
    assert code_words in text_of(page, "casino-refused").lower()
    assert not Round.objects.filter(player=player_in).exists()
    assert balance_of(player_in) == Decimal("100.00")
    assert SeedPair.objects.get(pk=pair.pk).next_nonce == 0


def test_a_refusal_without_htmx_is_the_page_with_the_reason(client, player_in):
    response = dice(client, stake="500.00", htmx=False)
    assert response.status_code == 422
    page = response.content.decode()
    assert "<html" in page and 'id="casino-refused"' in page
    # the form keeps what was sent
    assert 'id="dice-stake" name="stake" value="500.00"' in page


def test_a_self_excluded_player_is_refused_on_the_page(client, player_in):
    self_exclude(player=player_in, months=6, actor=Actor.of(player_in))
    page = panel(dice(client))
    assert "excluded yourself" in text_of(page, "casino-refused")
    assert not Round.objects.filter(player=player_in).exists()


def test_rotating_reveals_the_server_seed_and_the_snippet_verifies_the_round(client, player_in):
    # given: two rounds on the current pair
    rolled = casino_round_play(player=player_in, game="dice", actor=Actor.of(player_in), stake="1.00",
                               target="50.00", direction="over").round
    first = SeedPair.objects.get(pk=rolled.seed_pair_id)
    last = casino_round_play(player=player_in, game="roulette", actor=Actor.of(player_in),
                             bets=[{"type": "odd", "stake": "1.00"}]).round
    assert first.server_seed not in client.get(URL).content.decode()
    # when
    page = panel(client.post("/casino/seed/rotate", **HTMX))
    # then: the old server seed is shown, a new pair is hashed from nonce 0 with the same client seed
    current = SeedPair.objects.get(player=player_in, revealed_at__isnull=True)
    assert current.pk != first.pk and current.client_seed == first.client_seed
    assert text_of(page, "revealed-server-seed") == first.server_seed
    assert text_of(page, "server-seed-hash") == current.server_seed_hash and text_of(page, "next-nonce") == "0"
    assert current.server_seed not in page
    assert f"round #{last.pk}" in text_of(page, "verify-round")
    # and the snippet, run as a player would, prints the round's number
    snippet = html.unescape(re.search(r'<pre id="verify-snippet"><code>(.*?)</code></pre>', page, re.S).group(1))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(snippet, {})  # the page's own snippet
    assert f"roulette number {last.number}" in printed.getvalue()
    # the page drawn again still shows the revealed pair
    assert text_of(client.get(URL).content.decode(), "revealed-server-seed") == first.server_seed


def test_setting_the_client_seed_draws_the_next_rounds_with_it(client, player_in):
    # when
    page = panel(client.post("/casino/seed", {"client_seed": "my own seed 42"}, **HTMX))
    # then
    assert text_of(page, "client-seed") == "my own seed 42"
    assert SeedPair.objects.get(player=player_in, revealed_at__isnull=True).client_seed == "my own seed 42"
    panel(dice(client))
    assert Round.objects.get(player=player_in).client_seed == "my own seed 42"


@pytest.mark.parametrize("seed", ["", "x" * 65, "snow\u2603man"])
def test_a_bad_client_seed_is_refused_and_the_old_one_stays(client, player_in, seed):
    before = SeedPair.objects.get(pk=known_seeds(player_in).pk).client_seed
    page = panel(client.post("/casino/seed", {"client_seed": seed}, **HTMX))
    assert "client seed" in text_of(page, "casino-refused").lower()
    assert SeedPair.objects.get(player=player_in, revealed_at__isnull=True).client_seed == before


@pytest.mark.parametrize("role", ["trader", "compliance", "agent"])
def test_staff_and_agents_see_that_only_players_play_and_are_refused(client, make_user, role):
    # given
    client.force_login(make_user(role))
    # when
    page = client.get(URL)
    refused = panel(dice(client))
    rotated = panel(client.post("/casino/seed/rotate", **HTMX))
    # then
    assert page.status_code == 200 and 'id="not-a-player"' in page.content.decode()
    assert 'id="dice-form"' not in page.content.decode() and 'href="/casino"' not in page.content.decode()
    assert "only player accounts" in text_of(refused, "casino-refused")
    assert "only player accounts" in text_of(rotated, "casino-refused")
    assert not Round.objects.exists() and not SeedPair.objects.exists()


def test_anonymous_visitors_are_asked_to_log_in(client, db):
    for response in (client.get(URL), client.post("/casino/dice", {"stake": "1.00"}), client.get("/casino/dice/odds"),
                     client.post("/casino/seed/rotate")):
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert not Round.objects.exists()
