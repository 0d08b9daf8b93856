"""Computed styles shared from one document to the next.

WeasyPrint computes each element's style from its parent's style and the declarations
that apply to it, and already shares one style object between the elements of a document
that have the same parent style and the same rules. Its styles are computed lazily,
property by property, the first time layout or drawing asks: that is a fifth of a small
invoice's time. Every invoice of a kind has the same elements with the same rules, so the
styles (and the values computed in them) are kept here and handed to the next document
whose element has an equal parent style and equal declarations. The PDFs are the same,
byte for byte.

These are WeasyPrint's internals, not its API: where a release changes them, documents
are made without sharing (slower, never different)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# Enough for every element of every template in every locale many times over; reached
# only if documents carried styles of their own (a `style` attribute with per-document
# values), and then the styles are computed again from scratch.
MAX_SHARED_STYLES = 20_000

_local = threading.local()


def _hashable(value: Any, kept: list[Any]) -> Any:
    """`value` as part of a dictionary key that equals another only for a value that
    computes the same. An unhashable value stands for itself: by its id, kept alive with
    the style so that the id is never another object's."""
    if isinstance(value, (tuple, list)):
        return (type(value), tuple(_hashable(item, kept) for item in value))
    try:
        hash(value)
    except TypeError:
        kept.append(value)
        return (id, id(value))
    return value


def _shared_style_for_class(style_for: type) -> type:
    class SharedStyleFor(style_for):  # type: ignore[misc, valid-type]
        def set_computed_styles(
            self, element: Any, parent: Any, root: Any = None, pseudo_type: Any = None,
            base_url: Any = None, target_collector: Any = None,
        ) -> None:  # fmt: skip
            shared: dict[tuple[Any, ...], Any] | None = getattr(_local, "styles", None)
            key = None
            kept: list[Any] = []
            # Elements only: a page's style is changed by the layout of its document.
            if shared is not None and hasattr(element, "tag"):
                if parent is None:
                    parent_key: Any = ("root", id(self.font_config))
                else:
                    parent_key = getattr(self._computed_styles[parent, None], "shared_key", None)
                if parent_key is not None:
                    cascaded = self._cascaded_styles.get((element, pseudo_type), {})
                    try:
                        declarations: frozenset[Any] = frozenset(cascaded.items())
                    except TypeError:
                        declarations = frozenset(
                            (name, (_hashable(value, kept), weight))
                            for name, (value, weight) in cascaded.items()
                        )
                    key = (parent_key, pseudo_type, base_url, declarations)
                    style = shared.get(key)
                    if style is not None:
                        self._computed_styles[element, pseudo_type] = style
                        if target_collector and style["anchor"]:
                            target_collector.collect_anchor(style["anchor"])
                        return
            super().set_computed_styles(
                element, parent, root=root, pseudo_type=pseudo_type, base_url=base_url,
                target_collector=target_collector,
            )  # fmt: skip
            if shared is not None and key is not None:
                style = self._computed_styles[element, pseudo_type]
                # Its children's keys hold its id, not itself: the cache keeps every
                # style in it alive, so no other object has that id while the key exists.
                style.shared_key = id(style)
                style.kept = kept
                shared[key] = style

    return SharedStyleFor


_install_lock = threading.Lock()


@functools.cache
def _installed() -> bool:
    """Put the sharing class in WeasyPrint's place, once; whether it could be."""
    with _install_lock:
        return _install()


def _install() -> bool:
    try:
        from weasyprint import css
    except (ImportError, OSError):
        return False
    style_for = getattr(css, "StyleFor", None)
    if getattr(style_for, "shares_styles", False):
        return True  # installed by a thread that got here first
    init = getattr(style_for, "__init__", None)
    names = getattr(getattr(init, "__code__", None), "co_names", ())
    if not (
        hasattr(style_for, "set_computed_styles")
        and "_computed_styles" in names
        and "_cascaded_styles" in names
    ):
        return False
    shared_style_for = _shared_style_for_class(style_for)
    shared_style_for.shares_styles = True
    css.StyleFor = shared_style_for
    return True


@contextmanager
def shared_styles() -> Iterator[None]:
    """Documents made in this block (on this thread) share their computed styles with
    the documents made before them on this thread. Outside it, WeasyPrint works alone."""
    if not _installed():
        yield
        return
    styles = getattr(_local, "cache", None)
    if styles is None or len(styles) > MAX_SHARED_STYLES:
        styles = _local.cache = {}
    _local.styles = styles
    try:
        yield
    finally:
        _local.styles = None


def shared_style_count() -> int:
    """How many styles this thread keeps for the next documents."""
    return len(getattr(_local, "cache", None) or {})


def forget_shared_styles() -> None:
    """The next document on this thread computes its styles anew."""
    _local.cache = None
