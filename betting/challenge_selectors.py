"""Reading challenges: who sees which (open ones: everyone; the others: their parties and staff)."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from betting.challenges import STAFF_VIEW, challenge_visible
from betting.models import Challenge
from core.errors import InvalidInput, NotFound
from core.query import query_int
from wallet.models import GatewayTransfer


def _visible_to(user: Any) -> QuerySet[Challenge]:
    challenges = Challenge.objects.select_related("event", "outcome__market", "player")
    if user is not None and user.is_authenticated:
        if user.has_perm(STAFF_VIEW):
            return challenges.visible_to(user)
        return challenges.filter(Q(status=Challenge.Status.OPEN) | Q(creator=user) | Q(acceptor=user))
    return challenges.filter(status=Challenge.Status.OPEN)


def challenge_list(*, user: Any, status: str | None = None, event_id: str | None = None) -> QuerySet[Challenge]:
    challenges = _visible_to(user)
    if status:
        if status not in Challenge.Status.values:
            raise InvalidInput(f"status must be one of {', '.join(Challenge.Status.values)}.",
                               details={"field": "status"})
        challenges = challenges.filter(status=status)
    if (event := query_int(event_id, field="event_id", minimum=1)) is not None:
        challenges = challenges.filter(event_id=event)
    return challenges.order_by("-created_at", "-id")


def challenge_get(*, user: Any, challenge_id: int) -> Challenge:
    challenge = Challenge.objects.select_related("event", "outcome__market", "player").filter(pk=challenge_id).first()
    if challenge is None or not challenge_visible(challenge, user=user):
        raise NotFound(f"No challenge with id {challenge_id}.")
    return challenges_with_transfers([challenge])[0]


def challenges_with_transfers(challenges: list[Challenge]) -> list[Challenge]:
    """Each challenge with ``transfer_list``, its gateway transfers in order, read in one query."""
    by_challenge: dict[str, list[GatewayTransfer]] = {str(c.pk): [] for c in challenges}
    for moved in GatewayTransfer.objects.filter(reference_type="challenge",
                                                reference_id__in=list(by_challenge)).order_by("id"):
        by_challenge[moved.reference_id].append(moved)
    for challenge in challenges:
        challenge.transfer_list = by_challenge[str(challenge.pk)]
    return challenges
