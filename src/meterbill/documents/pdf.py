"""HTML to PDF with WeasyPrint, imported only when a PDF is made: meterbill starts, and
serves everything else, on a machine without WeasyPrint or its Pango libraries."""

from __future__ import annotations

import threading
from typing import Any


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


def _font_config() -> Any:
    config = getattr(_local, "font_config", None)
    if config is None:
        from weasyprint.text.fonts import FontConfiguration

        config = _local.font_config = FontConfiguration()
    return config


def html_to_pdf(html: str, *, pdf_a3: bool = False) -> bytes:
    """The PDF of a standalone HTML document (no external assets are fetched).

    `pdf_a3` makes a PDF/A-3b file, the archival format e-invoices (Factur-X, ZUGFeRD)
    embed their XML into."""
    weasyprint = _weasyprint()
    options: dict[str, Any] = {"pdf_variant": "pdf/a-3b"} if pdf_a3 else {}
    # One font configuration per thread, kept: making it is a sixth of a small PDF's time.
    options["font_config"] = _font_config()
    # Only data: URLs (the logo) are read: a document never reaches the network or disk.
    from weasyprint.urls import URLFetcher

    fetcher = URLFetcher(allowed_protocols=("data",))
    document = weasyprint.HTML(string=html, url_fetcher=fetcher)
    result = document.write_pdf(**options)
    assert isinstance(result, bytes)
    return result
