from django.db.models import Prefetch, QuerySet

from core.errors import InvalidInput, NotFound
from events.models import Event, Market, Outcome, Player


def _with_markets(events: QuerySet[Event]) -> QuerySet[Event]:
    return events.select_related("sport", "competition").prefetch_related(
        Prefetch("markets", queryset=Market.objects.order_by("id").prefetch_related(
            Prefetch("outcomes", queryset=Outcome.objects.order_by("id")))))


def event_list(*, status: str | None = None) -> QuerySet[Event]:
    events = Event.objects.all()
    if status:
        if status not in Event.Status.values:
            raise InvalidInput(f"status must be one of {', '.join(Event.Status.values)}.",
                               code="invalid_request", details={"field": "status"})
        events = events.filter(status=status)
    return _with_markets(events).order_by("start_time", "id")


def event_get(*, event_id: int) -> Event:
    event = _with_markets(Event.objects.filter(pk=event_id)).first()
    if event is None:
        raise NotFound(f"No event with id {event_id}.")
    return event


def market_get(*, market_id: int) -> Market:
    market = Market.objects.prefetch_related(
        Prefetch("outcomes", queryset=Outcome.objects.order_by("id"))).filter(pk=market_id).first()
    if market is None:
        raise NotFound(f"No market with id {market_id}.")
    return market


def event_players(*, event_id: int) -> QuerySet[Player]:
    """An event's roster with the stat lines, home side first."""
    if not Event.objects.filter(pk=event_id).exists():
        raise NotFound(f"No event with id {event_id}.")
    return Player.objects.filter(event_id=event_id).order_by("-team", "pk")
