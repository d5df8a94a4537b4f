"""The player's "Safer gambling" page: limits with what the periods used and what waits to loosen them,
set, tightened, loosened and withdrawn; refusals in words with nothing changed; the time-out and the
self-exclusion only once confirmed; staff set nothing."""

from datetime import timedelta
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.utils import timezone

from audit.context import Actor
from risk.models import PLAYER_LIMITS, LimitChange, PlayerRestriction
from risk.safer import limits_set

URL = "/account/safer-gambling"
HTMX = {"HTTP_HX_REQUEST": "true"}


class _LimitsForm(HTMLParser):
    """The fields of the page's limits form as a browser sends them."""

    def __init__(self):
        super().__init__()
        self.inside, self.fields = False, {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == "limits-form"
        elif tag == "input" and self.inside and a.get("name") != "csrfmiddlewaretoken":
            self.fields[a["name"]] = a.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False


def drawn(client) -> dict[str, str]:
    reader = _LimitsForm()
    reader.feed(client.get(URL).content.decode())
    return reader.fields


def save_limits(client, **typed: str) -> str:
    """The limits form as drawn, with ``typed`` into its fields, sent as htmx sends it: the panel."""
    response = client.post(URL, {**drawn(client), **typed}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and 'id="safer-panel"' in html
    return html


def restriction_of(player) -> dict:
    restriction = PlayerRestriction.objects.filter(player=player).first()
    return {name: getattr(restriction, name, None) for name in
            [*PLAYER_LIMITS, "timed_out_until", "self_excluded_until"]}


def pending_of(player) -> list[tuple]:
    return list(LimitChange.objects.filter(player=player, status=LimitChange.Status.PENDING)
                .values_list("limit", "value"))


def in_force(html: str, limit: str) -> str:
    row = html[html.index(f'id="limit-{limit}"'):]
    return row[row.index('class="num in-force">') + len('class="num in-force">'):row.index("</td>")]


def shown(moment) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


@pytest.fixture
def player_in(client, player):
    client.force_login(player)
    return player


def test_the_page_shows_limits_in_force_what_the_periods_used_and_what_waits(client, player_in):
    # given a deposit limit, a loosening of it waiting, and the 1,000.00 deposited today
    actor = Actor.of(player_in)
    limits_set(player=player_in, changes={"deposit_day": "5000.00", "session_minutes": 60}, actor=actor)
    limits_set(player=player_in, changes={"deposit_day": "8000.00", "session_minutes": None}, actor=actor)
    # when
    html = client.get(URL).content.decode()
    # then
    assert in_force(html, "deposit_day") == "5,000.00" and in_force(html, "session_minutes") == "60"
    assert in_force(html, "loss_week") == "No limit"
    for period in ("day", "week", "month"):
        assert '<td class="num used">1,000.00</td>' in html[html.index(f'id="limit-deposit_{period}"'):]
    changes = {c.limit: c for c in LimitChange.objects.filter(player=player_in, status="pending")}
    deposit = html[html.index('id="pending-deposit_day"'):]
    assert "8,000.00" in deposit[:300] and shown(changes["deposit_day"].effective_at) in deposit[:400]
    assert "No limit" in html[html.index('id="pending-session_minutes"'):][:300]
    assert html.count(">Withdraw</button>") == 2
    assert 'href="/account/safer-gambling">Safer gambling</a>' in html  # in the navigation


def test_a_limit_set_then_tightened_applies_at_once(client, player_in):
    # when
    first = save_limits(client, deposit_day="100")
    tighter = save_limits(client, deposit_day="50.00")
    # then
    assert in_force(first, "deposit_day") == "100.00" and "In force now: deposits per 24 hours." in first
    assert in_force(tighter, "deposit_day") == "50.00" and "No change is waiting." in tighter
    assert restriction_of(player_in)["deposit_day"] == Decimal("50.00") and pending_of(player_in) == []


def test_a_looser_limit_waits_with_its_time_and_can_be_withdrawn(client, player_in):
    # given
    save_limits(client, deposit_day="50.00")
    # when it is loosened
    html = save_limits(client, deposit_day="200.00")
    # then the old value holds and the new one waits its cooling-off, shown with its time
    change = LimitChange.objects.get(player=player_in, status="pending")
    assert change.effective_at - change.requested_at == timedelta(hours=24)
    assert in_force(html, "deposit_day") == "50.00"
    waiting = html[html.index('id="pending-deposit_day"'):]
    assert "200.00" in waiting[:300] and shown(change.effective_at) in waiting[:400]
    assert "Waiting 24 hours (a looser limit or a removal): deposits per 24 hours." in html
    # when it is withdrawn
    withdrawn = client.post(URL, {"action": "withdraw", "limit": "deposit_day"}, **HTMX).content.decode()
    # then
    assert "Withdrawn: deposits per 24 hours stays at 50.00." in withdrawn and "No change is waiting." in withdrawn
    change.refresh_from_db()
    assert change.status == LimitChange.Status.WITHDRAWN
    assert restriction_of(player_in)["deposit_day"] == Decimal("50.00")
    # a second click finds nothing waiting, and starts no removal
    again = client.post(URL, {"action": "withdraw", "limit": "deposit_day"}, **HTMX).content.decode()
    assert "Nothing is waiting to change that limit." in again and pending_of(player_in) == []


def test_only_the_fields_changed_are_sent_and_an_emptied_one_is_a_removal(client, player_in):
    # given
    limits_set(player=player_in, changes={"loss_week": "300.00", "max_stake": "20.00", "reality_check_minutes": 30},
               actor=Actor.of(player_in))
    # when the player changes the deposit limit and empties the max stake, leaving the others drawn as they were
    html = save_limits(client, deposit_month="400.00", max_stake="")
    # then the untouched limits are neither removed nor re-set; the removal waits
    assert pending_of(player_in) == [("max_stake", None)]
    after = restriction_of(player_in)
    assert (after["deposit_month"], after["loss_week"], after["max_stake"], after["reality_check_minutes"]) == (
        Decimal("400.00"), Decimal("300.00"), Decimal("20.00"), 30)
    assert "In force now: deposits per 30 days." in html
    # and a form sent unchanged changes nothing
    assert "You changed no limit." in save_limits(client)
    assert pending_of(player_in) == [("max_stake", None)]


@pytest.mark.parametrize(("typed", "words"), [
    ({"deposit_day": "abc"}, "That is not a number."),
    ({"loss_day": "-5"}, "The amount must be greater than zero."),
    ({"session_minutes": "90.5"}, "session_minutes must be a whole number from 1 to 1440."),
])
def test_a_bad_value_is_refused_in_words_and_changes_nothing(client, player_in, typed, words):
    # given
    limits_set(player=player_in, changes={"deposit_week": "700.00"}, actor=Actor.of(player_in))
    before = restriction_of(player_in), pending_of(player_in)
    # when, with a good value beside the bad one
    form = {**drawn(client), "deposit_month": "100.00", **typed}
    panel = client.post(URL, form, **HTMX).content.decode()
    whole = client.post(URL, form)
    # then the reason shows by its field, and the typed values stay in the form
    [name] = typed
    row = panel[panel.index(f'id="limit-{name}"'):]
    assert f'<p class="error" role="alert">{words}</p>' in row[:row.index("</tr>")]
    assert f'value="{typed[name]}"' in row[:row.index("</tr>")]
    assert whole.status_code == 422 and words in whole.content.decode()
    assert (restriction_of(player_in), pending_of(player_in)) == before


@pytest.mark.parametrize(("action", "choice", "said", "column"), [
    ("time_out", {"time_out-days": "3"}, "You are taking a break until", "timed_out_until"),
    ("self_exclusion", {"self_exclusion-months": "6"}, "You have excluded yourself until", "self_excluded_until"),
])
def test_a_break_needs_its_confirmation(client, player_in, action, choice, said, column):
    # when sent without the box ticked (the browser's check skipped)
    unconfirmed = client.post(URL, {"action": action, **choice})
    # then nothing starts
    assert unconfirmed.status_code == 422
    assert "Tick the box to confirm: this cannot be undone before it ends." in unconfirmed.content.decode()
    assert restriction_of(player_in)[column] is None
    # when confirmed
    html = client.post(URL, {"action": action, **choice, f"{action}-confirm": "on"}, **HTMX).content.decode()
    # then it runs from now, and the page says until when
    until = restriction_of(player_in)[column]
    assert until > timezone.now() + timedelta(days=2)
    assert f"{said} {shown(until)}." in html
    assert f">{until:%Y-%m-%d %H:%M} UTC</time>" in html


def test_a_time_out_out_of_range_is_refused_in_words(client, player_in):
    response = client.post(URL, {"action": "time_out", "time_out-days": "43", "time_out-confirm": "on"})
    assert response.status_code == 422 and "days must be a whole number from 1 to 42." in response.content.decode()
    assert restriction_of(player_in)["timed_out_until"] is None


@pytest.mark.parametrize("role", ["trader", "agent"])
def test_staff_and_agents_are_told_only_players_set_limits(client, make_user, role):
    # given
    user = make_user(role)
    client.force_login(user)
    # when
    page = client.get(URL)
    refused = client.post(URL, {"action": "limits", "deposit_day": "100.00"})
    # then
    assert page.status_code == 200 and 'id="not-a-player"' in page.content.decode()
    assert 'id="limits-form"' not in page.content.decode() and "Safer gambling</a>" not in page.content.decode()
    assert refused.status_code == 403 and not PlayerRestriction.objects.filter(player=user).exists()


def test_the_page_asks_a_visitor_to_log_in(client):
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
