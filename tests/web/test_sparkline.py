"""The price-history chart's coordinates come from Decimal prices, exactly."""

from decimal import Decimal

from oddslab.web.selectors import sparkline

D = Decimal


def test_points_are_scaled_exactly_between_the_lowest_and_highest_price():
    chart = sparkline([D("2.00"), D("2.50"), D("2.25")], width=120, height=32)
    assert chart["points"] == "0.0,29.0 60.0,3.0 120.0,16.0"
    assert (chart["low"], chart["high"], chart["trend"]) == (D("2.00"), D("2.50"), "up")


def test_one_price_is_a_flat_line_across_the_middle():
    assert sparkline([D("1.90")], width=120, height=32)["points"] == "0.0,16.0 120.0,16.0"
