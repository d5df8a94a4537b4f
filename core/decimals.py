"""Exact decimals from user and feed input: strings (or ints, or Decimals), never floats."""

from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from core.errors import InvalidInput


def exact_decimal(value: Any, *, code: str, field: str, example: str) -> Decimal:
    """A finite Decimal parsed from ``value``, or a 400 with ``code``. A JSON float has already lost
    its exact value, so it is refused rather than guessed at."""
    if isinstance(value, float | bool) or not isinstance(value, Decimal | int | str):
        raise InvalidInput(f"Give it as an exact decimal string, e.g. \"{example}\".", code=code,
                           details={"field": field})
    text = str(value).strip()
    # Decimal() reads any script's digits ("٣" is 3); an amount is written in ASCII or refused.
    if not text.isascii():
        raise InvalidInput("That is not a number.", code=code, details={"field": field})
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise InvalidInput("That is not a number.", code=code, details={"field": field}) from None
    if not number.is_finite():
        raise InvalidInput("That is not a finite number.", code=code, details={"field": field})
    return number


def has_at_most(number: Decimal, places: int) -> bool:
    step = Decimal(1).scaleb(-places)
    return number.as_tuple().exponent >= -places or number == number.quantize(step)


def decimal_seconds(text: str) -> timedelta:
    """A setting's decimal seconds ("0.2") as an exact duration (to the microsecond), never a float."""
    return timedelta(microseconds=int(Decimal(text) * 1_000_000))
