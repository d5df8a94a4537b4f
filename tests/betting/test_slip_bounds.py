"""Unbounded slips: a list longer than any scope allows is refused before anything in it is read."""

from decimal import Decimal

import pytest

from risk.models import SELECTIONS_CEILING, LimitProfile
from tests.conftest import assert_database_refuses, audit_rows, bets_snapshot, outcome_of, selection


def _slip(selections, bet_type="multiple"):
    return {"selections": selections, "stake": "1.00", "bet_type": bet_type}


def _unknown(count):
    """Selections of outcomes that do not exist: reading any of them would be a 404."""
    return [{"outcome_id": 10**12 + i, "price": "1.50"} for i in range(count)]


def test_a_slip_longer_than_every_scope_allows_is_refused_before_it_is_read(api, player):
    # given no profile allows more than the default 100 legs
    before = bets_snapshot()
    # when
    response = api(player).post("/api/v1/bets", _slip(_unknown(101)), format="json")
    # then: too many, not "unknown outcome": nothing of the slip was looked up
    assert response.status_code == 422, response.content
    assert response.json()["error"] == "too_many_selections"
    assert response.json()["details"] == {"selections": 101, "max_selections": 100}
    assert bets_snapshot() == before
    assert audit_rows("bet.place", "refused").get().details["error"] == "too_many_selections"


def test_the_bound_is_the_largest_any_scope_allows(api, player, make_event):
    # given one competition allows 150 legs
    LimitProfile.objects.create(scope="competition", competition=make_event().competition, max_selections=150)
    # when a slip of 120 unknown outcomes comes in, it is read (and found unknown); 151 is not
    assert api(player).post("/api/v1/bets", _slip(_unknown(120)), format="json").json()["error"] == "not_found"
    refused = api(player).post("/api/v1/bets/validate", _slip(_unknown(151)), format="json")
    assert refused.status_code == 422 and refused.json()["details"]["max_selections"] == 150


def test_a_list_past_the_ceiling_is_refused_as_malformed(api, player):
    response = api(player).post("/api/v1/bets", _slip(_unknown(SELECTIONS_CEILING + 1)), format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request" and "selections" in response.json()["details"]


def test_no_scope_may_allow_more_than_the_ceiling(db):
    assert_database_refuses(f"INSERT INTO risk_limitprofile (scope, max_selections, note) "
                            f"VALUES ('global', {SELECTIONS_CEILING + 1}, '')", match="limitprofile_selections_bounded")


def test_the_same_outcome_twice_is_a_related_selection(api, player, make_event):
    # given
    event = make_event()
    before = bets_snapshot()
    # when
    response = api(player).post("/api/v1/bets", _slip([selection(event), selection(event)]), format="json")
    # then
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["error"] == "related_selections"
    assert body["details"]["event_ids"] == [event.pk]
    assert body["details"]["outcome_ids"] == [outcome_of(event).pk]
    assert bets_snapshot() == before


@pytest.mark.parametrize("outcome_id", [2**63, 10**30, -1, 0])
def test_an_outcome_id_no_row_can_have_is_malformed(api, player, outcome_id):
    response = api(player).post("/api/v1/bets", _slip([{"outcome_id": outcome_id, "price": "2.00"}], "single"),
                                format="json")
    assert response.status_code == 400, response.content
    assert response.json()["details"]["field"] == "selections[0].outcome_id"


def test_the_page_slip_holds_at_most_the_ceiling(client, player, make_event):
    # given a slip already at the ceiling (one real selection shown, the rest long gone from the book)
    client.force_login(player)
    shown, outcome = outcome_of(make_event()), outcome_of(make_event())
    session = client.session
    session["slip"] = {"selections": [{"outcome_id": shown.pk, "price": str(shown.price)},
                                      *_unknown(SELECTIONS_CEILING - 1)], "stake": "1.00"}
    session.save()
    # when one more price is clicked
    response = client.post(f"/slip/outcomes/{outcome.pk}", HTTP_HX_REQUEST="true")
    # then the slip says so and does not grow
    assert response.status_code == 200
    assert f"at most {SELECTIONS_CEILING} selections" in response.content.decode()
    assert len(client.session["slip"]["selections"]) == SELECTIONS_CEILING
    assert Decimal(client.session["slip"]["stake"]) == Decimal("1.00")
