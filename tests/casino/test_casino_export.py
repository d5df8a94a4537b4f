"""casino-rounds.csv (docs/exports.md): its columns, one row per round with the round's own figures,
the tenant scoping of audit.tenancy, the export permission, and never an unrevealed server seed (nor in
the admin's read-only pages)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Tenant, User
from audit.context import Actor
from casino.exports import COLUMNS
from casino.models import SeedPair
from casino.services import casino_client_seed_set, casino_round_play, casino_seed_rotate
from tests.casino.helpers import CLIENT_SEED, SERVER_SEED, known_seeds, roll_of

URL = "/api/v1/exports/casino-rounds.csv"
ALL_TIME = {"start": "2000-01-01", "end": "2999-12-31"}


def read_csv(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="casino-rounds.csv"' in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode()
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[0] == COLUMNS
    return [dict(zip(COLUMNS, line, strict=True)) for line in lines[1:]]


def dice(player, **kwargs):
    return casino_round_play(player=player, game="dice", actor=Actor.of(player), **{
        "stake": "2.00", "target": "50.00", "direction": "under", **kwargs}).round


def spin(player):
    return casino_round_play(player=player, game="roulette", actor=Actor.of(player), bets=[
        {"type": "straight", "value": 17, "stake": "1.00"}, {"type": "red", "stake": "2.50"}]).round


def test_the_columns_and_one_row_per_round(api, make_user):
    # given
    player = make_user("player", "rosa", balance="100.00")
    pair = known_seeds(player)
    rolled, spun = dice(player), spin(player)
    # when
    rows = read_csv(api(make_user("compliance")).get(URL, ALL_TIME))
    # then
    assert COLUMNS == ["round_id", "created_at", "player", "game", "stake", "payout", "won", "multiplier", "roll",
                       "target", "direction", "number", "bets", "server_seed_hash", "client_seed", "nonce"]
    assert [row["round_id"] for row in rows] == [str(rolled.pk), str(spun.pk)]
    first, second = rows
    assert first == {
        "round_id": str(rolled.pk), "created_at": rolled.created_at.isoformat(), "player": "rosa", "game": "dice",
        "stake": "2.00", "payout": str(rolled.payout), "won": str(rolled.won), "multiplier": "1.9800",
        "roll": str(roll_of(0)), "target": "50.00", "direction": "under", "number": "", "bets": "",
        "server_seed_hash": pair.server_seed_hash, "client_seed": CLIENT_SEED, "nonce": "0"}
    paid = [bet["payout"] for bet in spun.bets]
    assert second["game"] == "roulette" and second["stake"] == "3.50" and second["nonce"] == "1"
    assert (second["roll"], second["target"], second["direction"]) == ("", "", "")
    assert second["number"] == str(spun.number) and second["payout"] == str(spun.payout)
    assert second["bets"] == f"straight:17@1.00={paid[0]};red@2.50={paid[1]}"


def test_no_server_seed_is_ever_written_revealed_or_not(api, make_user):
    # given: a round on a pair since revealed, and one on the current (secret) pair
    player = make_user("player", balance="100.00")
    known_seeds(player)
    dice(player)
    casino_seed_rotate(player=player, actor=Actor.of(player))
    dice(player)
    secret = SeedPair.objects.get(player=player, revealed_at__isnull=True)
    # when
    text = b"".join(api(make_user("regulator")).get(URL, ALL_TIME).streaming_content).decode()
    # then: each round names its pair by the hash
    assert secret.server_seed not in text and SERVER_SEED not in text
    assert secret.server_seed_hash in text


def test_a_formula_in_a_client_seed_is_written_as_text(api, make_user):
    player = make_user("player", balance="100.00")
    casino_client_seed_set(player=player, client_seed="=HYPERLINK(1)", actor=Actor.of(player))
    dice(player)
    rows = read_csv(api(make_user("compliance")).get(URL, ALL_TIME))
    assert rows[0]["client_seed"] == "'=HYPERLINK(1)"


def test_the_period_filters_by_the_day_played(api, make_user):
    player = make_user("player", balance="100.00")
    dice(player)
    client = api(make_user("compliance"))
    today = timezone.now().date()
    assert len(read_csv(client.get(URL, {"start": today.isoformat(), "end": today.isoformat()}))) == 1
    assert read_csv(client.get(URL, {"start": (today + timedelta(days=1)).isoformat()})) == []
    assert read_csv(client.get(URL, {"end": (today - timedelta(days=1)).isoformat()})) == []
    refused = client.get(URL, {"start": "yesterday"})
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_date"


@pytest.mark.parametrize(("role", "status"), [(None, 401), ("player", 403), ("agent", 403), ("trader", 403),
                                              ("compliance", 200), ("regulator", 200), ("admin", 200)])
def test_only_those_who_export_reports_download_it(api, make_user, role, status):
    user = make_user(role) if role else None
    assert api(user).get(URL, ALL_TIME).status_code == status


def test_a_tenants_staff_read_their_tenants_rounds_only(api, make_user):
    # given: a player and a compliance officer in each of two tenants, each player with a round
    played = {}
    for slug in ("alpha", "beta"):
        tenant = Tenant.objects.create(slug=slug, name=slug.title())
        player = make_user("player", f"{slug}-player", balance="50.00")
        officer = make_user("compliance", f"{slug}-compliance")
        User.objects.filter(pk__in=[player.pk, officer.pk]).update(tenant=tenant)
        played[slug] = dice(User.objects.get(pk=player.pk), stake="1.00")
    # when / then: each tenant's officer reads their own round, never the other's
    for slug, other in (("alpha", "beta"), ("beta", "alpha")):
        rows = read_csv(api(User.objects.get(username=f"{slug}-compliance")).get(URL, ALL_TIME))
        assert [row["round_id"] for row in rows] == [str(played[slug].pk)]
        assert f"{other}-player" not in {row["player"] for row in rows}
    # and the platform's regulator reads both
    rows = read_csv(api(make_user("regulator")).get(URL, ALL_TIME))
    assert {row["round_id"] for row in rows} == {str(r.pk) for r in played.values()}
    assert sum(Decimal(row["stake"]) for row in rows) == Decimal("2.00")


def test_the_admin_shows_an_unrevealed_server_seed_by_its_hash_only(client, make_user):
    # given: a round on a pair since revealed, and the player's current (secret) pair
    player = make_user("player", "sam", balance="100.00")
    known_seeds(player)
    played = dice(player)
    casino_seed_rotate(player=player, actor=Actor.of(player))
    secret = SeedPair.objects.get(player=player, revealed_at__isnull=True)
    client.force_login(make_user("compliance"))
    # when / then: the secret pair's page, list and round pages show its hash, never the seed
    pages = [client.get(f"/admin/casino/seedpair/{secret.pk}/change/"), client.get("/admin/casino/seedpair/"),
             client.get(f"/admin/casino/round/{played.pk}/change/"), client.get("/admin/casino/round/?game=dice")]
    for page in pages:
        assert page.status_code == 200
        assert secret.server_seed not in page.content.decode()
    assert secret.server_seed_hash in pages[0].content.decode()
    assert "hidden until the pair is rotated" in pages[0].content.decode()
    # a search by the seed itself finds nothing (it would tell a guess is right)
    found = client.get("/admin/casino/seedpair/", {"q": secret.server_seed}).content.decode()
    assert f"/admin/casino/seedpair/{secret.pk}/change/" not in found
    # nor does a filter by it (the admin allows one on any local field): refused
    for lookup in ("server_seed__startswith", "server_seed", "seed_pair__server_seed__startswith"):
        model = "round" if lookup.startswith("seed_pair") else "seedpair"
        assert client.get(f"/admin/casino/{model}/", {lookup: secret.server_seed[:1]}).status_code == 400
    assert client.get("/admin/casino/seedpair/", {"server_seed_hash": secret.server_seed_hash}).status_code == 200
    # the revealed pair's seed is shown
    revealed = client.get(f"/admin/casino/seedpair/{played.seed_pair_id}/change/").content.decode()
    assert SERVER_SEED in revealed
    # and the rounds are found by their player's username
    by_name = client.get("/admin/casino/round/", {"q": "sam"}).content.decode()
    assert f"/admin/casino/round/{played.pk}/change/" in by_name
