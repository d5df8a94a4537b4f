"""A test run keeps its Redis keys and channels to itself: what `make run` or another suite leaves in
the same Redis never reaches this run's events, sockets or tasks."""

import json

import msgpack
import pytest
import redis
from django.conf import settings

from audit.context import Actor
from core import live
from events.services import outcome_price_set
from tests.conftest import outcome_of


def test_the_run_has_a_namespace_of_its_own():
    test_database = settings.DATABASES["default"]["TEST"]["NAME"]
    assert settings.REDIS_PREFIX.startswith(test_database)
    assert settings.CHANNEL_LAYER_PREFIX.startswith(settings.REDIS_PREFIX)
    assert settings.CACHES["default"]["KEY_PREFIX"] == settings.REDIS_PREFIX
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] == settings.REDIS_PREFIX
    assert live._key("seq:1") == f"{settings.REDIS_PREFIX}live:seq:1"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_prices_another_run_left_pending_do_not_land_on_this_runs_event(make_event):
    # given an event, and pending prices that an unprefixed site left in Redis for the same event id
    event = make_event(home="2.50")
    home = outcome_of(event)
    raw = redis.Redis.from_url(settings.REDIS_URL)
    stale = {"market_id": 1, "outcome_id": 999_999, "price": "9.99"}
    raw.hset(f"live:prices:{event.pk}", mapping={"999999": json.dumps(stale)})
    listener = raw.pubsub()
    listener.subscribe(live._channel(f"odds.event.{event.pk}"))
    listener.get_message(timeout=1)  # the subscription's confirmation
    try:
        # when this run's trader moves the price
        outcome_price_set(outcome_id=home.pk, price="2.40", reason="test", actor=Actor.system("test"))
        message = listener.get_message(timeout=3)
        # then the message carries this run's price only
        assert message is not None and message["type"] == "message"
        payload = json.loads(msgpack.unpackb(message["data"])["text"])
        assert payload["prices"] == [{"market_id": home.market_id, "outcome_id": home.pk, "price": "2.400"}]
    finally:
        listener.close()
        raw.delete(f"live:prices:{event.pk}")
        raw.close()
