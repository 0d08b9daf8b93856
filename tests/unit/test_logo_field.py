"""The organization's logo field: data URLs of PNG or JPEG images of at most 800 KB."""

from __future__ import annotations

import base64

from meterbill.core.fields import LOGO_MAX_BYTES, logo
from meterbill.core.validation import MISSING, Reader

PNG = b"\x89PNG\r\n\x1a\n"
JPEG = b"\xff\xd8\xff\xe0"


def _read(value: object) -> tuple[object, dict[str, list[str]]]:
    reader = Reader({"logo": value})
    return logo(reader), reader.errors


def test_png_and_jpeg_are_kept_and_named_by_their_bytes() -> None:
    png = base64.b64encode(PNG + b"\x00" * 10).decode()
    assert _read(f"data:image/png;base64,{png}") == (f"data:image/png;base64,{png}", {})
    jpeg = base64.b64encode(JPEG + b"\x01" * 10).decode()
    # Sent as "jpg", shown under its proper media type.
    assert _read(f"data:image/jpg;base64,{jpeg}") == (f"data:image/jpeg;base64,{jpeg}", {})
    assert _read(None) == (None, {})


def test_anything_else_is_refused() -> None:
    fake = base64.b64encode(b"GIF89a").decode()
    assert _read(f"data:image/png;base64,{fake}") == (MISSING, {"logo": ["invalid_image"]})
    assert _read("data:image/png;base64,!!!") == (MISSING, {"logo": ["invalid_image"]})
    big = base64.b64encode(PNG + b"\x00" * LOGO_MAX_BYTES).decode()
    assert _read(f"data:image/png;base64,{big}") == (MISSING, {"logo": ["too_big"]})
    exact = base64.b64encode(PNG + b"\x00" * (LOGO_MAX_BYTES - len(PNG))).decode()
    assert _read(f"data:image/png;base64,{exact}")[1] == {}
