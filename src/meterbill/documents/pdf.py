from __future__ import annotations


class PdfEngineUnavailable(Exception):
    pass


def html_to_pdf(html: str, *, pdf_a3: bool = False) -> bytes:
    try:
        from weasyprint import HTML
    except ImportError as error:
        raise PdfEngineUnavailable(str(error)) from error
    return HTML(string=html).write_pdf()
