"""Pure rules, no database: price and currency, reorder, timezones, currencies."""

import uuid
from decimal import Decimal

import pytest

from workspaces.domain.currencies import currency_problem
from workspaces.domain.errors import InvalidPrice, InvalidReorder
from workspaces.domain.services import check_price, check_reorder
from workspaces.domain.settings import timezone_problem


@pytest.mark.parametrize(
    ("price", "currency"), [(None, None), (Decimal("0"), "USD"), (Decimal("10.50"), "CLP")]
)
def test_price_and_currency_that_go_together(price, currency) -> None:
    check_price(price, currency)


@pytest.mark.parametrize(
    ("price", "currency", "reason"),
    [
        (Decimal("1"), None, "required when a price is set"),
        (None, "USD", "only be set together with a price"),
        (Decimal("-0.01"), "USD", "must not be negative"),
    ],
)
def test_price_and_currency_that_do_not(price, currency, reason) -> None:
    with pytest.raises(InvalidPrice, match=reason):
        check_price(price, currency)


def test_reorder_must_list_each_existing_service_exactly_once() -> None:
    a, b, c = (uuid.uuid4() for _ in range(3))
    check_reorder([c, a, b], {a, b, c})
    check_reorder([], set())
    with pytest.raises(InvalidReorder, match="missing"):
        check_reorder([a, b], {a, b, c})
    with pytest.raises(InvalidReorder, match="Not services of your workspace"):
        check_reorder([a, b, c, uuid.uuid4()], {a, b, c})
    with pytest.raises(InvalidReorder, match="only once"):
        check_reorder([a, a, b, c], {a, b, c})


@pytest.mark.parametrize("name", ["UTC", "Europe/Madrid", "America/Argentina/Cordoba"])
def test_iana_timezones_are_known(name) -> None:
    assert timezone_problem(name) is None


@pytest.mark.parametrize("name", ["localtime", "posixrules", "Factory", "Mars/Base", "utc"])
def test_non_zone_names_are_unknown_timezones(name) -> None:
    assert "Unknown timezone" in (timezone_problem(name) or "")


@pytest.mark.parametrize("code", ["USD", "EUR", "CLP", "JPY", "MXN"])
def test_circulating_currencies_are_accepted(code) -> None:
    assert currency_problem(code) is None


@pytest.mark.parametrize("code", ["XAU", "XTS", "XXX", "ABC"])
def test_non_currencies_and_unknown_codes_are_refused(code) -> None:
    assert "Unknown currency" in (currency_problem(code) or "")
