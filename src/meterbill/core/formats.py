"""Formats Lago validates: countries, time zones, locales, e-mail lists."""

from __future__ import annotations

import re
from typing import Final

import pycountry

# ISO 3166-1 alpha-2, plus Kosovo's user-assigned XK which Lago's `countries` gem knows.
COUNTRIES: Final[frozenset[str]] = frozenset(
    {country.alpha_2 for country in pycountry.countries} | {"XK"}
)

# Lago accepts Rails' curated zone list (not all of IANA), with its own overrides.
TIMEZONES: Final[frozenset[str]] = frozenset(
    """
    UTC Etc/UTC Etc/GMT+12 Africa/Algiers Africa/Cairo Africa/Casablanca Africa/Harare
    Africa/Johannesburg Africa/Monrovia Africa/Nairobi America/Argentina/Buenos_Aires
    America/Bogota America/Caracas America/Chicago America/Chihuahua America/Denver
    America/Guatemala America/Guyana America/Halifax America/Indiana/Indianapolis
    America/Juneau America/La_Paz America/Lima America/Los_Angeles America/Mazatlan
    America/Mexico_City America/Monterrey America/Montevideo America/New_York America/Nuuk
    America/Phoenix America/Puerto_Rico America/Regina America/Santiago America/Sao_Paulo
    America/St_Johns America/Tijuana Asia/Almaty Asia/Baghdad Asia/Baku Asia/Bangkok
    Asia/Chongqing Asia/Colombo Asia/Dhaka Asia/Hong_Kong Asia/Irkutsk Asia/Jakarta
    Asia/Jerusalem Asia/Kabul Asia/Kamchatka Asia/Karachi Asia/Kathmandu Asia/Kolkata
    Asia/Krasnoyarsk Asia/Kuala_Lumpur Asia/Kuwait Asia/Magadan Asia/Muscat
    Asia/Novosibirsk Asia/Riyadh Asia/Seoul Asia/Shanghai Asia/Singapore
    Asia/Srednekolymsk Asia/Taipei Asia/Tashkent Asia/Tbilisi Asia/Tehran Asia/Tokyo
    Asia/Ulaanbaatar Asia/Urumqi Asia/Vladivostok Asia/Yakutsk Asia/Yangon
    Asia/Yekaterinburg Asia/Yerevan Atlantic/Azores Atlantic/Cape_Verde
    Atlantic/South_Georgia Australia/Adelaide Australia/Brisbane Australia/Darwin
    Australia/Hobart Australia/Melbourne Australia/Perth Australia/Sydney Europe/Amsterdam
    Europe/Athens Europe/Belgrade Europe/Berlin Europe/Bratislava Europe/Brussels
    Europe/Bucharest Europe/Budapest Europe/Copenhagen Europe/Dublin Europe/Helsinki
    Europe/Istanbul Europe/Kaliningrad Europe/Kyiv Europe/Lisbon Europe/Ljubljana
    Europe/London Europe/Madrid Europe/Minsk Europe/Moscow Europe/Paris Europe/Prague
    Europe/Riga Europe/Rome Europe/Samara Europe/Sarajevo Europe/Skopje Europe/Sofia
    Europe/Stockholm Europe/Tallinn Europe/Vienna Europe/Vilnius Europe/Volgograd
    Europe/Warsaw Europe/Zagreb Europe/Zurich Pacific/Apia Pacific/Auckland
    Pacific/Chatham Pacific/Fakaofo Pacific/Fiji Pacific/Guadalcanal Pacific/Guam
    Pacific/Honolulu Pacific/Majuro Pacific/Midway Pacific/Noumea Pacific/Pago_Pago
    Pacific/Port_Moresby Pacific/Tongatapu
    """.split()
)

DOCUMENT_LOCALES: Final[frozenset[str]] = frozenset(
    {"en", "fr", "nb", "de", "it", "es", "sv", "pt-BR", "zh-TW"}
)

# Look-alikes that users paste from word processors; Lago normalises them first.
_DASHES = dict.fromkeys(map(ord, "\u2012\u2013\u2014\u2015\u2043\u2212"), "-")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u00a0\u200e\u200f\ufeff"), None)

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(r"^[\w.!#$%&'*+/=?^`{|}~-]+@" + _LABEL + r"(?:\." + _LABEL + r")*$", re.UNICODE)


def normalize_country(value: str) -> str | None:
    """Upper-cased ISO code, or None when it is not one."""
    code = value.upper()
    return code if code in COUNTRIES else None


def sanitize_email(value: str) -> str:
    return value.translate(_DASHES).translate(_INVISIBLE).strip()


def is_valid_email_list(value: str) -> bool:
    """A comma-separated list of addresses; every part must be one (no empty part)."""
    return all(_EMAIL.match(part.strip()) for part in value.split(","))
