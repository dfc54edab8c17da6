"""`usd()`: three significant figures, and the unit chosen after rounding — 999.6e6 is "$1.00bn",
never "$1000m" — at every unit boundary."""

from __future__ import annotations

import pytest

from bot.render.numbers import trade, usd


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (0, "$0"),
        (12, "$12"),
        (999.4, "$999"),
        (999.6, "$1.00k"),
        (1_000, "$1.00k"),
        (9_994, "$9.99k"),
        (9_996, "$10.0k"),
        (99_940, "$99.9k"),
        (99_960, "$100k"),
        (999_400, "$999k"),
        (999_600, "$1.00m"),
        (21.9e6, "$21.9m"),
        (99.96e6, "$100m"),
        (350e6, "$350m"),
        (999.4e6, "$999m"),
        (999.6e6, "$1.00bn"),
        (1.2e9, "$1.20bn"),
        (9.996e9, "$10.0bn"),
        (999.6e9, "$1.00tn"),
        (1.5e12, "$1.50tn"),
        (999.6e12, "$1000tn"),  # no larger unit: the figure grows instead
    ],
)
def test_usd_rounds_into_the_next_unit(amount, text):
    assert usd(amount) == text
    assert usd(-amount) == text  # unsigned: the magnitude


def test_usd_sign_and_unknown():
    assert usd(-999.6e6, signed=True) == "−$1.00bn"
    assert usd(999.6e6, signed=True) == "+$1.00bn"
    assert usd(0, signed=True) == "$0"
    assert usd(None) == "unknown"
    assert trade(-999.6e6) == "SELL $1.00bn"


@pytest.mark.parametrize("exponent", range(0, 15))
@pytest.mark.parametrize("mantissa", [0.9994, 0.9995, 0.99951, 0.9996, 0.99999])
def test_no_unit_ever_shows_a_four_digit_figure(mantissa, exponent):
    text = usd(mantissa * 10 ** (exponent + 1))
    figure = text.lstrip("$").rstrip("kmbnt").replace(",", "")
    assert float(figure) < 1000 or text.endswith("tn")


def test_answers_and_messages_share_one_formatter():
    """`ask` answers (flows/questions) once printed 999.6e6 as "$1000m"."""
    from flows.questions.wording import side
    from flows.questions.wording import usd as answer_usd

    assert answer_usd(999.6e6) == "$1.00bn"
    assert side(-999.6e6) == "SELL $1.00bn"
    assert side(0) == "no trade"
