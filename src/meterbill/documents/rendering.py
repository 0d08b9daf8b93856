from __future__ import annotations

from datetime import datetime
from typing import Any


def invoice_html(session: Any, invoice: Any, now: datetime) -> str:
    return f"<h1>Invoice {invoice.number}</h1>"


def credit_note_html(session: Any, note: Any, now: datetime) -> str:
    return f"<h1>Credit note {note.number}</h1>"
