"""AML transaction monitoring (risk.aml): the five rules at their thresholds, the checks over real
deposits, withdrawals and registrations (on commit, in a real worker), the alert workflow with its
audit rows, and the API, export, console and admin over it."""

import csv
import io
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from audit.context import Actor
from audit.models import AuditLog
from betting.services import bet_place
from core.errors import DomainError
from ledger.models import Transfer
from risk import aml, tasks
from risk.aml import (
    AML_ALERT_COLUMNS,
    CHECK_TASKS,
    REGISTRATION_CHECK_TASK,
    aml_alert_update,
    aml_check_deposit,
    aml_check_registration,
    aml_check_withdrawal,
)
from risk.models import AmlAlert
from tests.conftest import audit_rows, run_concurrently, selection, wallet_of
from wallet.services import wallet_deposit, wallet_withdraw

D = Decimal
SYSTEM = Actor.system("test")
PASSWORD = "a-long-test-password"


@pytest.fixture(autouse=True)
def _settings(settings):
    # the withdrawals here are past the KYC threshold, a rule these tests are not about; registrations
    # hash with a fast hasher (Argon2 takes 100 MB a hash)
    settings.RISK_KYC_WITHDRAWAL_THRESHOLD = "1000000.00"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def no_broker(monkeypatch):
    """The tasks queued on commit, by name, instead of sent to the broker."""
    sent = []

    class Broker:
        def send_task(self, name, args):
            sent.append((name, args))

    monkeypatch.setattr(aml, "current_app", Broker())
    return sent


def _deposit(user, amount: str) -> Transfer:
    return wallet_deposit(user=user, amount=D(amount), actor=SYSTEM).transfer


def _withdraw(user, amount: str) -> Transfer:
    return wallet_withdraw(user=user, amount=D(amount), actor=SYSTEM).transfer


def _rules(user) -> list[str]:
    return sorted(AmlAlert.objects.filter(user=user).values_list("rule", flat=True))


# --- The rules, at their thresholds (defaults: 10,000.00; 20,000.00; 3 in [9,000.00, 10,000.00);
# --- 1,000.00 with stakes under 50%; 3 accounts) -------------------------------------------------

RULE_CASES = [
    # (rule, facts, fires)
    (aml.large_deposit, {"amount": D("10000.00")}, True),
    (aml.large_deposit, {"amount": D("9999.99")}, False),
    (aml.deposit_velocity, {"amount": D("10000.00"), "earlier": [D("10000.00")]}, True),
    (aml.deposit_velocity, {"amount": D("9999.99"), "earlier": [D("10000.00")]}, False),
    (aml.deposit_velocity, {"amount": D("1.00"), "earlier": [D("20000.00")]}, False),  # raised when crossed
    (aml.structuring, {"amount": D("9000.00"), "earlier": [D("9999.99"), D("9000.00")]}, True),
    (aml.structuring, {"amount": D("8999.99"), "earlier": [D("9999.99"), D("9000.00")]}, False),
    (aml.structuring, {"amount": D("10000.00"), "earlier": [D("9999.99"), D("9000.00")]}, False),
    (aml.structuring, {"amount": D("9000.00"), "earlier": [D("9999.99"), D("8999.99")]}, False),
    (aml.structuring, {"amount": D("9000.00"), "earlier": [D("9500.00")] * 3}, False),  # raised at the third
    (aml.low_turnover_withdrawal, {"amount": D("1000.00"), "last_deposit": D("1000.00"), "staked": D("499.99")},
     True),
    (aml.low_turnover_withdrawal, {"amount": D("1000.00"), "last_deposit": D("1000.00"), "staked": D("500.00")},
     False),
    (aml.low_turnover_withdrawal, {"amount": D("999.99"), "last_deposit": D("1000.00"), "staked": D("0.00")},
     False),
    (aml.low_turnover_withdrawal, {"amount": D("5000.00"), "last_deposit": None, "staked": D("0.00")}, False),
    (aml.shared_ip, {"ip": "203.0.113.7", "user_ids": [1, 2, 3]}, True),
    (aml.shared_ip, {"ip": "203.0.113.7", "user_ids": [1, 2]}, False),
    (aml.shared_ip, {"ip": "203.0.113.7", "user_ids": [1, 2, 3, 4]}, False),  # raised at the third
]


@pytest.mark.parametrize(("rule", "facts", "fires"), RULE_CASES,
                         ids=[f"{r.__name__}-{i}" for i, (r, _, _) in enumerate(RULE_CASES)])
def test_each_rule_fires_at_its_threshold_and_not_one_cent_below(rule, facts, fires):
    found = rule(**facts)
    assert (found is not None) == fires
    if fires:
        assert found.rule == rule.__name__ and found.details


def test_the_thresholds_are_settings(settings):
    settings.AML_LARGE_DEPOSIT = "500.00"
    assert aml.large_deposit(amount=D("500.00")).details == {"amount": "500.00", "threshold": "500.00"}
    assert aml.large_deposit(amount=D("499.99")) is None


# --- The checks over real money ------------------------------------------------------------------

@pytest.mark.parametrize(("amount", "raised"), [("10000.00", ["large_deposit"]), ("9999.99", [])])
def test_a_large_deposit_raises_one_alert_however_often_it_is_checked(make_user, amount, raised):
    # given a deposit at (or a cent under) the large-deposit threshold: it went through
    player = make_user()
    deposit = _deposit(player, amount)
    assert wallet_of(player).balance == D(amount)
    # when its check runs twice
    first, again = aml_check_deposit(deposit.pk), aml_check_deposit(deposit.pk)
    # then one alert, raised the first time, audited once; the money is untouched
    assert [a.rule for a in first] == raised and again == []
    assert _rules(player) == raised
    assert audit_rows("aml_alert.raise").count() == len(raised)
    assert wallet_of(player).balance == D(amount)
    if raised:
        alert = AmlAlert.objects.get(user=player)
        assert (alert.status, alert.severity, alert.reference) == ("open", "medium", deposit.reference)
        assert alert.details == {"amount": amount, "threshold": "10000.00", "transfer": deposit.reference}
        assert audit_rows("aml_alert.raise").get().actor_label == "system:aml"


@pytest.mark.parametrize(("gap", "raised"), [
    (timedelta(hours=24) - timedelta(seconds=1), True),
    (timedelta(hours=24), False),
    (timedelta(hours=24, seconds=1), False),
])
def test_deposit_velocity_counts_the_deposits_of_the_24_hours_up_to_the_deposit(make_user, monkeypatch, gap,
                                                                                  raised):
    # given 10,000.00 deposited, then 10,000.00 more ``gap`` later (20,000.00 is the daily threshold)
    player = make_user()
    t0 = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: t0)
    _deposit(player, "10000.00")
    monkeypatch.setattr(timezone, "now", lambda: t0 + gap)
    second = _deposit(player, "10000.00")
    monkeypatch.undo()
    # when the second deposit is checked
    found = aml_check_deposit(second.pk)
    # then velocity is raised while the first still counts
    assert ("deposit_velocity" in [a.rule for a in found]) == raised


def test_velocity_and_structuring_are_raised_once_by_the_deposit_that_crosses_them(make_user):
    # given four deposits of 9,500.00 (each just under the large-deposit threshold) within 24 h
    player = make_user()
    deposits = [_deposit(player, "9500.00") for _ in range(4)]
    # when each is checked, twice
    raised = [[a.rule for a in aml_check_deposit(d.pk)] for d in deposits]
    assert all(aml_check_deposit(d.pk) == [] for d in deposits)
    # then structuring at the third, velocity at the third (28,500.00 ≥ 20,000.00), nothing at the fourth
    assert raised == [[], [], ["deposit_velocity", "structuring"], []]
    structuring = AmlAlert.objects.get(rule="structuring")
    assert (structuring.severity, structuring.reference) == ("high", deposits[2].reference)
    assert structuring.details["amounts"] == ["9500.00"] * 3


@pytest.mark.parametrize(("stake", "raised"), [("999.99", True), ("1000.00", False)])
def test_a_withdrawal_after_little_play_since_the_last_deposit_is_raised(make_user, make_event, stake, raised):
    # given a player who staked 1,500.00 on an earlier deposit, then deposited 2,000.00 and staked ``stake``
    # (50% of 2,000.00 is 1,000.00)
    player = make_user()
    event = make_event()
    _deposit(player, "2000.00")
    bet_place(player=player, selections=[selection(event)], stake="1500.00", bet_type="single",
              actor=Actor.of(player))
    last = _deposit(player, "2000.00")
    bet_place(player=player, selections=[selection(event)], stake=stake, bet_type="single",
              actor=Actor.of(player))
    # when 1,000.00 is withdrawn: it goes through
    withdrawal = _withdraw(player, "1000.00")
    # then its check raises the alert when the stakes since the last deposit are under half of it
    found = aml_check_withdrawal(withdrawal.pk)
    assert [a.rule for a in found] == (["low_turnover_withdrawal"] if raised else [])
    assert aml_check_withdrawal(withdrawal.pk) == []
    if raised:
        assert found[0].details == {
            "amount": "1000.00", "last_deposit": "2000.00", "staked_since": "999.99",
            "stakes_expected": "1000.0000", "threshold": "1000.00", "transfer": withdrawal.reference,
            "last_deposit_transfer": last.reference}


def test_a_withdrawal_under_the_threshold_or_without_a_deposit_raises_nothing(make_user):
    player = make_user(balance="2000.00")
    assert aml_check_withdrawal(_withdraw(player, "999.99").pk) == []
    assert aml_check_deposit(_withdraw(player, "1000.00").pk) == []  # not a deposit: nothing to check


def test_a_deposit_and_a_withdrawal_queue_their_checks_on_commit_by_name(make_user, no_broker,
                                                                       django_capture_on_commit_callbacks):
    player = make_user()
    with django_capture_on_commit_callbacks(execute=True):
        deposit = _deposit(player, "100.00")
        withdrawal = _withdraw(player, "40.00")
    assert no_broker == [(CHECK_TASKS["deposit"], [deposit.pk]), (CHECK_TASKS["withdrawal"], [withdrawal.pk])]
    # the names are the worker's tasks
    assert {tasks.aml_check_deposit_task.name, tasks.aml_check_withdrawal_task.name,
            tasks.aml_check_registration_task.name} == {*CHECK_TASKS.values(), REGISTRATION_CHECK_TASK}


def test_a_broker_that_is_down_blocks_no_deposit(make_user, monkeypatch, django_capture_on_commit_callbacks):
    # given a broker that refuses every task
    class DownBroker:
        def send_task(self, name, args):
            raise ConnectionError("broker down")

    monkeypatch.setattr(aml, "current_app", DownBroker())
    player = make_user()
    # when a large deposit commits
    with django_capture_on_commit_callbacks(execute=True):
        movement = wallet_deposit(user=player, amount=D("50000.00"), actor=SYSTEM)
    # then the money moved all the same
    assert movement.balance == wallet_of(player).balance == D("50000.00")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_checking_one_deposit_at_once_raise_one_alert(make_user, no_broker):
    player = make_user()
    deposit = _deposit(player, "12000.00")
    results = run_concurrently(2, lambda i: aml_check_deposit(deposit.pk))
    assert sorted(len(r) for r in results) == [0, 1], results
    assert AmlAlert.objects.count() == 1 and audit_rows("aml_alert.raise").count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_worker_raises_the_alert_of_a_large_deposit_after_commit(celery_worker_process, make_user):
    # given a worker, and a player
    player = make_user()
    # when the player deposits the large-deposit threshold
    deposit = _deposit(player, "10000.00")
    # then the worker, handed the check on commit, raises its alert
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not AmlAlert.objects.filter(user=player).exists():
        time.sleep(0.2)
    alert = AmlAlert.objects.get(user=player)
    assert (alert.rule, alert.reference, alert.status) == ("large_deposit", deposit.reference, "open")
    assert wallet_of(player).balance == D("10000.00")


# --- Registrations from one address --------------------------------------------------------------

def _register(api, name: str, ip: str, **headers):
    response = api().post("/api/v1/auth/register", {"username": name, "password": PASSWORD,
                                                    "email": f"{name}@example.test", "country": "GB"},
                          format="json", REMOTE_ADDR=ip, **headers)
    assert response.status_code == 201, response.content
    return User.objects.get(pk=response.json()["id"])


def test_the_third_account_registered_from_one_address_raises_shared_ip(api, db, no_broker,
                                                                      django_capture_on_commit_callbacks):
    # given two accounts registered from 203.0.113.7 and one from elsewhere
    with django_capture_on_commit_callbacks(execute=True):
        users = [_register(api, f"shared{i}", "203.0.113.7") for i in range(2)]
        _register(api, "elsewhere", "198.51.100.1")
        # when a third registers from the same address, through the signup page
        response = Client(REMOTE_ADDR="203.0.113.7").post(reverse("web:signup"), {
            "username": "shared2", "password": PASSWORD, "email": "s2@example.test", "country": "GB",
            "adult": "on"})
        assert response.status_code == 302
    users.append(User.objects.get(username="shared2"))
    # then each registration recorded its address and queued its check
    assert [u.registration_ip for u in users] == ["203.0.113.7"] * 3
    queued = [args for name, args in no_broker if name == REGISTRATION_CHECK_TASK]
    assert queued == [[users[0].pk], [users[1].pk], [User.objects.get(username="elsewhere").pk], [users[2].pk]]
    # and the checks raise one alert, the third account's, however often they run
    for args in queued * 2:
        aml_check_registration(*args)
    alert = AmlAlert.objects.get()
    assert (alert.rule, alert.user_id, alert.reference) == ("shared_ip", users[2].pk,
                                                             f"ip:203.0.113.7:user:{users[2].pk}")
    assert alert.details == {"ip": "203.0.113.7", "user_ids": [u.pk for u in users], "count": 3}


def test_behind_a_trusted_proxy_the_forwarded_address_is_recorded(api, db, settings, no_broker):
    settings.TRUSTED_PROXY_IP_HEADER = "X-Forwarded-For"
    user = _register(api, "proxied", "10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9, 10.0.0.1")
    assert user.registration_ip == "203.0.113.9"


@pytest.mark.parametrize(("age", "raised"), [
    (timedelta(hours=24) - timedelta(seconds=1), True),
    (timedelta(hours=24), False),
])
def test_shared_ip_counts_the_registrations_of_the_24_hours_up_to_the_last(make_user, age, raised):
    users = [make_user() for _ in range(3)]
    User.objects.filter(pk__in=[u.pk for u in users]).update(registration_ip="203.0.113.7")
    User.objects.filter(pk=users[0].pk).update(date_joined=users[2].date_joined - age)
    assert bool(aml_check_registration(users[2].pk)) == raised


# --- The workflow --------------------------------------------------------------------------------

@pytest.fixture
def alert(make_user):
    player = make_user()
    [raised] = aml_check_deposit(_deposit(player, "10000.00").pk)
    return raised


def test_an_alert_moves_open_investigating_closed_each_step_audited(alert, make_user):
    officer = Actor.of(make_user("compliance"))
    # when compliance investigates, then closes it with a reason
    investigating = aml_alert_update(alert_id=alert.pk, status="investigating", reason="", actor=officer)
    closed = aml_alert_update(alert_id=alert.pk, status="closed", reason="salary, payslip seen", actor=officer)
    # then it is closed with its reason, and each step has its audit row
    assert investigating.status == "investigating"
    assert (closed.status, closed.closed_reason) == ("closed", "salary, payslip seen")
    assert AmlAlert.objects.get(pk=alert.pk).closed_reason == "salary, payslip seen"
    steps = [audit_rows("aml_alert.investigate").get(), audit_rows("aml_alert.close").get()]
    assert [(r.category, r.actor_label, r.resource_id) for r in steps] == [
        ("compliance", officer.label, str(alert.pk))] * 2
    assert steps[1].details["before"] == "investigating" and steps[1].details["reason"] == "salary, payslip seen"


@pytest.mark.parametrize(("steps", "status", "reason", "code"), [
    ([], "closed", "skipped a step", "invalid_alert_state"),
    (["investigating"], "investigating", "", "invalid_alert_state"),
    (["investigating", "closed"], "investigating", "reopen", "invalid_alert_state"),
    (["investigating"], "closed", "   ", "reason_required"),
    ([], "open", "", "invalid_request"),
])
def test_an_invalid_step_is_refused_with_its_code_and_audited(alert, make_user, steps, status, reason, code):
    officer = Actor.of(make_user("compliance"))
    for step in steps:
        aml_alert_update(alert_id=alert.pk, status=step, reason="done", actor=officer)
    before = AmlAlert.objects.values().get(pk=alert.pk)
    with pytest.raises(DomainError) as refused:
        aml_alert_update(alert_id=alert.pk, status=status, reason=reason, actor=officer)
    assert refused.value.code == code
    assert AmlAlert.objects.values().get(pk=alert.pk) == before
    assert AuditLog.objects.filter(outcome="refused", action__startswith="aml_alert.", details__error=code).count() == 1


# --- API, export, console, admin -----------------------------------------------------------------

@pytest.fixture
def alerts(make_user):
    """A large deposit (open) and a structuring pattern (three alerts: large is not among them)."""
    big, small = make_user(username="big"), make_user(username="small")
    [large] = aml_check_deposit(_deposit(big, "15000.00").pk)
    for _ in range(3):
        aml_check_deposit(_deposit(small, "9500.00").pk)
    return {"large": large, "structuring": AmlAlert.objects.get(rule="structuring"),
            "velocity": AmlAlert.objects.get(rule="deposit_velocity"), "big": big, "small": small}


def test_the_alert_list_filters_by_status_rule_and_user(api, make_user, alerts):
    client = api(make_user("compliance"))
    body = client.get("/api/v1/compliance/alerts").json()
    assert body["count"] == 3
    assert set(body["results"][0]) == {"id", "rule", "user_id", "severity", "status", "details", "created_at",
                                       "closed_reason"}

    def ids(**query):
        response = client.get("/api/v1/compliance/alerts", query)
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert ids(rule="structuring") == {alerts["structuring"].pk}
    assert ids(user=alerts["small"].pk) == {alerts["structuring"].pk, alerts["velocity"].pk}
    assert ids(status="open", user=alerts["big"].pk) == {alerts["large"].pk}
    assert ids(status="closed") == set()


@pytest.mark.parametrize("query", [{"status": "pending"}, {"rule": "nonsense"}, {"user": "abc"}, {"user": "9" * 25}])
def test_a_bad_filter_is_a_400_with_the_error_shape(api, make_user, query):
    response = api(make_user("regulator")).get("/api/v1/compliance/alerts", query)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request" and response.json()["details"]["field"] in query


def test_compliance_works_an_alert_over_the_api_and_a_regulator_only_reads(api, make_user, alerts):
    url = f"/api/v1/compliance/alerts/{alerts['large'].pk}"
    regulator, officer = api(make_user("regulator")), api(make_user("compliance"))
    assert regulator.get("/api/v1/compliance/alerts").status_code == 200
    assert regulator.post(url, {"status": "investigating"}, format="json").status_code == 403
    assert api(make_user("trader")).get("/api/v1/compliance/alerts").status_code == 403
    assert api(make_user("player")).get("/api/v1/compliance/alerts").status_code == 403
    # compliance moves it on
    response = officer.post(url, {"status": "investigating", "reason": "asked for source of funds"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "investigating"
    refused = officer.post(url, {"status": "closed"}, format="json")
    assert refused.status_code == 400 and refused.json()["error"] == "reason_required"
    closed = officer.post(url, {"status": "closed", "reason": "inheritance, documented"}, format="json").json()
    assert (closed["status"], closed["closed_reason"]) == ("closed", "inheritance, documented")
    again = officer.post(url, {"status": "closed", "reason": "again"}, format="json")
    assert again.status_code == 409 and again.json()["error"] == "invalid_alert_state"
    assert officer.post("/api/v1/compliance/alerts/999999", {"status": "investigating"},
                        format="json").status_code == 404
    assert officer.post(url, {"status": "open"}, format="json").status_code == 400


def _csv(response) -> list[dict[str, str]]:
    assert response.status_code == 200 and response.streaming
    assert response["Content-Disposition"] == 'attachment; filename="aml-alerts.csv"'
    reader = csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
    rows = list(reader)
    assert reader.fieldnames == AML_ALERT_COLUMNS
    return rows


def test_the_csv_export_takes_the_lists_filters(client, make_user, alerts):
    client.force_login(make_user("regulator"))
    rows = _csv(client.get("/api/v1/exports/aml-alerts.csv"))
    assert sorted(int(r["id"]) for r in rows) == sorted(a.pk for a in AmlAlert.objects.all())
    [row] = _csv(client.get("/api/v1/exports/aml-alerts.csv", {"rule": "large_deposit"}))
    assert (row["user"], row["status"], row["reference"]) == ("big", "open", alerts["large"].reference)
    assert '"amount": "15000.00"' in row["details"]
    assert client.get("/api/v1/exports/aml-alerts.csv", {"status": "nope"}).status_code == 400
    client.force_login(make_user("trader"))
    assert client.get("/api/v1/exports/aml-alerts.csv").status_code == 403


def test_the_console_page_filters_and_moves_an_alert_on(client, make_user, alerts):
    # given compliance on the console page, filtered to one rule
    client.force_login(make_user("compliance"))
    page = client.get(reverse("console:aml-alerts"), {"rule": "structuring"})
    assert page.status_code == 200
    assert [alert.pk for alert, _ in page.context["rows"]] == [alerts["structuring"].pk]
    # when it investigates the alert from its form, then closes it without and with a reason
    url = reverse("console:aml-alert", args=[alerts["structuring"].pk]) + "?rule=structuring"
    moved = client.post(url, {"status": "investigating", "reason": ""})
    assert moved.status_code == 302 and moved["Location"].endswith("?rule=structuring")
    client.post(url, {"status": "closed", "reason": ""})
    assert AmlAlert.objects.get(pk=alerts["structuring"].pk).status == "investigating"
    client.post(url, {"status": "closed", "reason": "family business, documented"})
    # then the same service moved it, audited, and the page says so
    assert AmlAlert.objects.get(pk=alerts["structuring"].pk).closed_reason == "family business, documented"
    assert audit_rows("aml_alert.close", "refused").count() == audit_rows("aml_alert.close", "success").count() == 1
    assert b"family business" in client.get(reverse("console:aml-alerts"), {"status": "closed"}).content
    # a bad filter is a message on the page, not an error
    assert b"status must be one of" in client.get(reverse("console:aml-alerts"), {"status": "nope"}).content


def test_a_regulator_reads_the_console_page_without_its_forms(client, make_user, alerts):
    client.force_login(make_user("regulator"))
    page = client.get(reverse("console:aml-alerts"))
    assert page.status_code == 200 and b'name="reason"' not in page.content
    url = reverse("console:aml-alert", args=[alerts["large"].pk])
    assert client.post(url, {"status": "investigating"}).status_code == 403
    assert AmlAlert.objects.get(pk=alerts["large"].pk).status == "open"


def test_the_admin_lists_alerts_read_only_and_works_them_through_the_service(client, make_user, alerts):
    officer = make_user("compliance")
    client.force_login(officer)
    assert client.get(reverse("admin:risk_amlalert_changelist"), {"status__exact": "open"}).status_code == 200
    pk = alerts["large"].pk
    assert client.post(reverse("admin:risk_amlalert_close", args=[pk]), {"reason": "x"}).status_code == 409
    done = client.post(reverse("admin:risk_amlalert_investigate", args=[pk]), {"reason": "looking"})
    assert done.status_code == 302
    assert AmlAlert.objects.get(pk=pk).status == "investigating"
    assert audit_rows("aml_alert.investigate", "success").get().actor_label == officer.username
