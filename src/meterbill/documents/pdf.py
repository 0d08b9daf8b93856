"""HTML to PDF with WeasyPrint, imported only when a PDF is made: meterbill starts, and
serves everything else, on a machine without WeasyPrint or its Pango libraries."""

from __future__ import annotations

import functools
import gc
import re
import threading
from collections.abc import Callable
from typing import Any

from meterbill.documents.pdf_styles import shared_styles
from meterbill.documents.pdf_tree import parsed_document, without_outer_space


class PdfEngineUnavailable(Exception):
    """WeasyPrint (or the Pango/HarfBuzz libraries it loads) cannot be used here."""


def _weasyprint() -> Any:
    try:
        import weasyprint
    except (ImportError, OSError) as error:
        raise PdfEngineUnavailable(
            "PDF generation needs WeasyPrint and its system libraries (Pango >= 1.44, "
            "HarfBuzz, fontconfig): `pip install weasyprint` and e.g. "
            f"`apt-get install libpango-1.0-0 libpangoft2-1.0-0` ({error})"
        ) from error
    return weasyprint


_local = threading.local()


def _per_thread(name: str, make: Callable[[], Any]) -> Any:
    """This thread's `name`, made on first use and kept for its next documents."""
    kept = getattr(_local, name, None)
    if kept is None:
        kept = make()
        setattr(_local, name, kept)
    return kept


def _font_config() -> Any:
    """Making one is a sixth of a small PDF's time."""
    from weasyprint.text.fonts import FontConfiguration

    return _per_thread("font_config", FontConfiguration)


def _url_fetcher() -> Any:
    """Only data: URLs (the logo) are read: a document never reaches the network or disk.
    Kept, as it builds a dozen URL handlers."""
    from weasyprint.urls import URLFetcher

    return _per_thread("url_fetcher", lambda: URLFetcher(allowed_protocols=("data",)))


# The templates' line breaks between tags: each is a text node to parse, box and drop
# (a twentieth of a PDF). No template puts inline elements on lines of their own, and
# user text is escaped (no `<`), so these are never shown. Not before a closing tag: a
# `white-space: pre-line` element's content may be a line break.
_BETWEEN_TAGS = re.compile(r">[ \t]*\n\s*<(?!/)")

_STYLE = re.compile(r"<style>(.*?)</style>", re.DOTALL)


def _styles_apart(weasyprint: Any, html: str) -> tuple[str, list[Any]]:
    """The document without its inline stylesheet, and that stylesheet parsed once per
    thread: every document of a kind shares it, and parsing it anew each time costs a
    sixth of a PDF."""
    match = _STYLE.search(html)
    if match is None:
        return html, []
    cache: dict[str, Any] = _per_thread("stylesheets", dict)
    text = match.group(1)
    if text not in cache:
        cache[text] = weasyprint.CSS(string=text, font_config=_font_config())
    return html[: match.start()] + html[match.end() :], [cache[text]]


# Pseudo-elements the user agent stylesheet gives every element: list markers and footnote
# or note calls and markers. No document here has a list item or a footnote, yet each of
# their elements got six pseudo-element styles (more than 80 % of a document's styles, a
# twentieth of a PDF's time). Without these rules the PDF is the same, byte for byte.
_UNUSED_PSEUDO_ELEMENTS = re.compile(
    r"^::(?:marker|footnote-call|footnote-marker|note-call|note-marker|note-callback)"
    r" \{[^}]*\}\n",
    re.MULTILINE,
)
# A document that could show one of them (a list item, a footnote or note, a marker
# style) keeps WeasyPrint's own stylesheet.
_USES_PSEUDO_ELEMENTS = re.compile(
    r"<li[\s>]|list-item|footnote|float:\s*note|::?marker|::?note-", re.IGNORECASE
)


@functools.cache
def _html_class(weasyprint: Any) -> Any:
    """`weasyprint.HTML` with the user agent stylesheet less the unused pseudo-elements;
    `weasyprint.HTML` itself where this WeasyPrint keeps its stylesheet otherwise (these
    are its internals, not its API: a release that changes them costs speed, not PDFs)."""
    from weasyprint import html as html_module

    internals = ("UA", "UA_COUNTER_STYLE", "UA_STYLESHEET")
    if not all(hasattr(html_module, name) for name in internals) or not hasattr(
        weasyprint.HTML, "_ua_stylesheets"
    ):
        return weasyprint.HTML
    trimmed = weasyprint.CSS(
        string=_UNUSED_PSEUDO_ELEMENTS.sub("", html_module.UA),
        counter_style=html_module.UA_COUNTER_STYLE,
    )

    class Html(weasyprint.HTML):
        def _ua_stylesheets(self, *args: Any, **kwargs: Any) -> list[Any]:
            sheets: list[Any] = super()._ua_stylesheets(*args, **kwargs)
            return [trimmed if sheet is html_module.UA_STYLESHEET else sheet for sheet in sheets]

    return Html


def prepared(weasyprint: Any, html: str) -> tuple[str, list[Any]]:
    """The markup WeasyPrint reads for `html`, and its stylesheets parsed."""
    body, stylesheets = _styles_apart(weasyprint, html)
    return without_outer_space(_BETWEEN_TAGS.sub("><", body)), stylesheets


def html_to_pdf(html: str, *, pdf_a3: bool = False) -> bytes:
    """The PDF of a standalone HTML document (no external assets are fetched).

    `pdf_a3` makes a PDF/A-3b file, the archival format e-invoices (Factur-X, ZUGFeRD)
    embed their XML into."""
    weasyprint = _weasyprint()
    options: dict[str, Any] = {"pdf_variant": "pdf/a-3b"} if pdf_a3 else {}
    options["font_config"] = _font_config()
    body, stylesheets = prepared(weasyprint, html)
    # A render builds some hundred thousand short-lived objects: with the cycle collector
    # paused it runs once afterwards instead of many times during (a tenth of the time).
    paused = gc.isenabled()
    gc.disable()
    try:
        trimmed = _USES_PSEUDO_ELEMENTS.search(html) is None
        html_class = _html_class(weasyprint) if trimmed else weasyprint.HTML
        with shared_styles():
            document = parsed_document(html_class, body, _url_fetcher())
            result = document.write_pdf(stylesheets=stylesheets, **options)
    finally:
        if paused:
            gc.enable()
    assert isinstance(result, bytes)
    return result
