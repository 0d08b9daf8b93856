"""Document languages and formats: locale choice, catalogs, money, dates, rates, addresses."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from babel.messages.pofile import read_po

from meterbill.documents import i18n
from meterbill.documents.i18n import (
    LOCALES,
    address_lines,
    country_name,
    document_locale,
    format_date,
    format_money,
    format_rate,
    format_unit_price,
    format_units,
    translations,
)

NNBSP, NBSP = "\u202f", "\xa0"


def holder(locale: str | None) -> SimpleNamespace:
    return SimpleNamespace(document_locale=locale)


def test_document_locale_customer_then_organization_then_english() -> None:
    assert document_locale(holder("fr"), holder("de")) == "fr"
    assert document_locale(holder(None), holder("pt-BR")) == "pt-BR"
    assert document_locale(holder(None), holder(None)) == "en"
    assert document_locale(None, None) == "en"
    assert document_locale(holder("xx"), holder("sv")) == "sv"
    assert LOCALES == ("en", "fr", "nb", "de", "it", "es", "sv", "pt-BR", "zh-TW")


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en", "€1,234.56"),
        ("fr", f"1{NNBSP}234,56{NBSP}€"),
        ("de", f"1.234,56{NBSP}€"),
        ("nb", f"1{NBSP}234,56{NBSP}€"),
        ("it", f"1.234,56{NBSP}€"),
        ("es", f"1.234,56{NBSP}€"),
        ("sv", f"1{NBSP}234,56{NBSP}€"),
        ("pt-BR", f"€{NBSP}1.234,56"),
        ("zh-TW", "€1,234.56"),
    ],
)
def test_money_per_locale(locale: str, expected: str) -> None:
    assert format_money(123_456, "EUR", locale) == expected


def test_money_uses_the_currency_exponent_and_rounds_half_up() -> None:
    assert format_money(1_000, "JPY", "en") == "¥1,000"
    assert format_money(1_234, "KWD", "en") == "KWD1.234"
    assert format_money(-1_000, "USD", "en") == "-$10.00"
    assert format_money(123_456, "USD", "fr") == f"1{NNBSP}234,56{NBSP}$US"
    # A precise amount of cents rounds half-up (Babel alone rounds half-even).
    assert format_money(Decimal("2.5"), "EUR", "en") == "€0.03"
    assert format_money(Decimal("0.5"), "EUR", "en") == "€0.01"


def test_unit_prices_keep_up_to_six_decimals() -> None:
    assert format_unit_price(Decimal("0.0123"), "EUR", "en") == "€0.0123"
    assert format_unit_price(Decimal("1"), "EUR", "en") == "€1.00"
    assert format_unit_price(Decimal("0.12345678"), "EUR", "de") == f"0,123457{NBSP}€"


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en", "December 4, 2026"),
        ("fr", "4 décembre 2026"),
        ("de", "4. Dezember 2026"),
        ("nb", "4. desember 2026"),
        ("it", "4 dicembre 2026"),
        ("es", "4 de diciembre de 2026"),
        ("sv", "4 december 2026"),
        ("pt-BR", "4 de dezembro de 2026"),
        ("zh-TW", "2026年12月4日"),
    ],
)
def test_dates_per_locale(locale: str, expected: str) -> None:
    assert format_date(date(2026, 12, 4), locale) == expected


def test_units_and_rates() -> None:
    assert format_units(Decimal("1500.000"), "en") == "1,500"
    assert format_units(Decimal("2.50"), "fr") == "2,5"
    assert format_rate(Decimal("20"), "en") == "20%"
    assert format_rate(Decimal("20"), "fr") == f"20{NBSP}%"
    assert format_rate(Decimal("5.5"), "de") == f"5,5{NBSP}%"
    assert format_rate(Decimal("0.5"), "pt-BR") == "0,5%"


def test_country_names_and_addresses() -> None:
    assert country_name("US", "fr") == "États-Unis"
    assert country_name("DE", "de") == "Deutschland"
    assert country_name(None, "en") is None
    us = address_lines(line1="1 Main St", line2="Suite 2", city="Austin", zipcode="78701",
                       state="TX", country="US", locale="en")  # fmt: skip
    assert us == ["1 Main St", "Suite 2", "Austin, TX 78701", "United States"]
    fr = address_lines(line1="12 rue de la Paix", line2=None, city="Paris", zipcode="75002",
                       state=None, country="FR", locale="fr")  # fmt: skip
    assert fr == ["12 rue de la Paix", "75002 Paris", "France"]
    gb = address_lines(line1="1 Raccoon Street", line2="", city="London", zipcode="EC1A 1BB",
                       state=None, country="gb", locale="en")  # fmt: skip
    assert gb == ["1 Raccoon Street", "London", "EC1A 1BB", "United Kingdom"]
    no_city = address_lines(line1=None, line2=None, city=None, zipcode=None, state="TX",
                            country="US", locale="en")  # fmt: skip
    assert no_city == ["TX", "United States"]
    assert address_lines(line1=None, line2=None, city=None, zipcode=None, state=None,
                         country=None, locale="en") == []  # fmt: skip


def test_catalogs_translate_and_fall_back_to_english() -> None:
    assert translations("en").gettext("Invoice") == "Invoice"
    assert translations("fr").gettext("Invoice") == "Facture"
    assert translations("de").gettext("Subtotal (excl. tax)") == "Zwischensumme (netto)"
    assert translations("zh-TW").gettext("Total") == "總計"
    assert translations("fr").gettext("A label no catalog has") == "A label no catalog has"
    assert translations("xx").gettext("Invoice") == "Invoice"
    assert translations("fr").ngettext("%(num)d day", "%(num)d days", 1) == "%(num)d jour"
    assert translations("fr").ngettext("%(num)d day", "%(num)d days", 30) == "%(num)d jours"
    assert translations("zh-TW").ngettext("%(num)d day", "%(num)d days", 30) == "%(num)d 天"


PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def _ids(message: object) -> tuple[str, ...]:
    value = message.id  # type: ignore[attr-defined]
    return value if isinstance(value, tuple) else (value,)


@pytest.mark.parametrize("locale", [locale for locale in LOCALES if locale != "en"])
def test_every_catalog_translates_every_label_with_its_placeholders(locale: str) -> None:
    with (i18n.LOCALES_DIR / "documents.pot").open("rb") as handle:
        template = {_ids(message)[0]: message for message in read_po(handle) if message.id}
    folder = {"pt-BR": "pt_BR", "zh-TW": "zh_TW"}.get(locale, locale)
    path = i18n.LOCALES_DIR / folder / "LC_MESSAGES" / "documents.po"
    with path.open("rb") as handle:
        catalog = {_ids(message)[0]: message for message in read_po(handle) if message.id}
    assert set(catalog) == set(template)
    for key, message in catalog.items():
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings), (locale, key)
        wanted = sorted(PLACEHOLDER.findall(key))
        for string in strings:
            assert sorted(PLACEHOLDER.findall(string)) == wanted, (locale, key, string)
        assert not message.fuzzy


def test_document_names_follow_lago() -> None:
    from types import SimpleNamespace

    from meterbill.documents.views import _title

    def title(invoice_type: str, country: str | None, locale: str = "en") -> str:
        invoice = SimpleNamespace(invoice_type=invoice_type)
        organization = SimpleNamespace(country=country)
        return _title(invoice, organization, translations(locale).gettext)  # type: ignore[arg-type]

    assert title("subscription", "FR") == "Invoice"
    assert title("one_off", "AU") == "Tax invoice"
    assert title("subscription", "SG", "fr") == "Facture fiscale"
    assert title("advance_charges", "US") == "Paid invoice"
    assert title("advance_charges", "NZ") == "Paid tax invoice"
    assert title("credit", "AU") == "Advance invoice"
    assert title("credit", None, "de") == "Vorauszahlungsrechnung"
