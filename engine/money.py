"""Money in CNY: exact Decimal amounts to the cent, one rounding rule, and sum-preserving splits."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction

CURRENCY = "CNY"
CENT = Decimal("0.01")

# Anything a caller may hand us as an amount or a quantity. float is deliberately absent:
# 0.1 + 0.2 != 0.3 in binary, and a payroll figure that is off by a fen cannot be explained.
Number = int | str | Decimal


class MoneyError(ValueError):
    """A value cannot be used as money or as an exact quantity (float, NaN, sub-cent amount, garbage)."""


def cap_money(value: Decimal | int) -> Decimal:
    """A ceiling in money (a cap, a maximum): truncated to the cent, never rounded up past the limit.

    The one exception to `round_money`: 经济处罚准则(三)4 makes 50 % of the bonus a maximum, and
    rounding 1500.005 half up would deduct more than half of a 3000.01 bonus.
    """
    return Decimal(value).quantize(CENT, rounding=ROUND_DOWN)


def round_money(value: Decimal | int) -> Decimal:
    """Round a computed amount to the cent, half up. The only place the engine rounds money.

    Why ROUND_HALF_UP (四舍五入): it is the rule payroll and accounting staff apply by hand, so
    every figure in a basis string can be checked with a calculator. Banker's rounding (half-even,
    Python's default) would make 0.125 -> 0.12 and look like an error to the people who audit it.
    Its small upward bias does not accumulate where it matters: totals that must balance are
    produced by `split`, which conserves the sum exactly.
    """
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise MoneyError(f"cannot round {type(value).__name__} {value!r} as money: use Decimal or int")
    if isinstance(value, int):
        value = Decimal(value)
    if not value.is_finite():
        raise MoneyError(f"{value} is not a finite amount")
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def to_decimal(value: Number, what: str = "value") -> Decimal:
    """Parse an exact quantity (base points, percentages, ratios) from int, str or Decimal; refuse floats."""
    if isinstance(value, bool) or isinstance(value, float) or not isinstance(value, int | str | Decimal):
        raise MoneyError(f"{what}: {type(value).__name__} {value!r} is not exact; write it as a string or Decimal")
    if isinstance(value, str):
        text = value.strip().replace(",", "").replace("_", "")
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise MoneyError(f"{what}: {value!r} is not a number") from None
    elif isinstance(value, int):
        value = Decimal(value)
    if not value.is_finite():
        raise MoneyError(f"{what}: {value} is not a finite number")
    return value


def to_money(value: Number, what: str = "amount") -> Decimal:
    """Parse an amount in CNY from int, str ("1,200.50") or Decimal; refuse floats and sub-cent amounts.

    Input amounts are not rounded: an amount with fractions of a cent is a data error (or an
    unrounded computation upstream), and silently rounding it would hide where the fen went.
    """
    amount = to_decimal(value, what)
    quantized = amount.quantize(CENT)
    if quantized != amount:
        raise MoneyError(f"{what}: {amount} has fractions of a cent")
    return quantized


def format_money(amount: Decimal) -> str:
    """Two places, no exponent, no thousands separator: 2400 -> '2400.00'."""
    return f"{round_money(amount):.2f}"


def format_number(value: Decimal | int) -> str:
    """A quantity as a person writes it: 800, 1.5, 60 (no trailing zeros, no exponent)."""
    value = Decimal(value)
    if value == value.to_integral_value():
        return str(int(value))
    return f"{value.normalize():f}"


def split(amount: Number, weights: Sequence[Number]) -> list[Decimal]:
    """Split `amount` by `weights` into cent-exact parts that sum exactly to `amount`.

    Weights may be ratios, percentages or base points; only their proportions matter. Method:
    largest remainder (Hamilton). Every part first gets its exact share rounded down to the cent;
    the cents left over go one each to the parts with the largest discarded fractions, and ties go
    to the earlier part, so the result is deterministic and follows the order the caller gave
    (put the person who should absorb a rounding cent first). No part is more than one cent away
    from its exact share, and a zero weight always gets exactly zero.
    """
    total = to_money(amount)
    parsed = [to_decimal(w, f"weight {i + 1}") for i, w in enumerate(weights)]
    if not parsed:
        raise MoneyError("split: no weights given")
    if any(w < 0 for w in parsed):
        raise MoneyError(f"split: negative weight in {[format_number(w) for w in parsed]}")
    weight_sum = sum(parsed, Decimal(0))
    if weight_sum == 0:
        raise MoneyError("split: weights sum to zero")
    # Work in whole cents with exact fractions: Decimal division would round at 28 digits,
    # and a rounded share can tip a tie the wrong way.
    sign = -1 if total < 0 else 1
    cents = int(abs(total) / CENT)
    exact = [Fraction(cents) * Fraction(w) / Fraction(weight_sum) for w in parsed]
    floors = [int(share) for share in exact]  # int() truncates; shares are non-negative
    left_over = cents - sum(floors)
    by_remainder = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in by_remainder[:left_over]:
        floors[i] += 1
    return [(Decimal(sign * c) * CENT).quantize(CENT) for c in floors]
