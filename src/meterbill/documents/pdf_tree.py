"""A document's element tree read by the XML parser, for WeasyPrint.

WeasyPrint reads HTML with an HTML5 parser written in Python: a fourteenth of a small
invoice's time. The templates write well-formed XML (void elements closed, tables with
their `tbody`), which Python's XML parser (expat, in C) reads twenty times faster into the
same tree. Anything else — a fragment, markup that is not XML, a character XML refuses, an
attribute value that XML would normalize — is read by WeasyPrint's own parser, and a test
holds every template's tree equal to the one that parser builds."""

from __future__ import annotations

import dis
import functools
import re
from typing import Any
from xml.etree import ElementTree

# What the HTML5 parser moves elsewhere and XML keeps where it stands: white space at the
# end of the head and the body, and after the document. It is never shown.
_AROUND_DOCUMENT_TAGS = re.compile(r"\s+(?=</(?:head|body|html)>)|(?<=</html>)\s+")
# XML turns tabs and line breaks in attribute values into spaces; HTML keeps them.
_BREAK_IN_ATTRIBUTE = re.compile(r"=\"[^\"]*[\t\n\r]")

# The attributes WeasyPrint's HTML sets when it parses, all of which are set here.
_HTML_ATTRIBUTES = {"base_url", "url_fetcher", "media_type", "wrapper_element", "etree_element"}


def without_outer_space(html: str) -> str:
    """`html` less the white space around its head and body tags (shown by neither parser,
    placed differently by each)."""
    return _AROUND_DOCUMENT_TAGS.sub("", html)


def xml_tree(html: str) -> ElementTree.Element | None:
    """The element tree of an HTML document written as XML, as WeasyPrint's parser would
    build it; None where only an HTML parser can tell."""
    if _BREAK_IN_ATTRIBUTE.search(html):
        return None
    try:
        root = ElementTree.fromstring(html)
    except ElementTree.ParseError:
        return None
    if root.tag != "html" or [child.tag for child in root] != ["head", "body"]:
        return None
    if root.find("head/base") is not None:
        return None  # WeasyPrint would take its URL as the document's
    return root


@functools.cache
def _takes_a_tree(html_class: type) -> bool:
    """Whether this WeasyPrint's HTML sets only the attributes set here when it parses."""
    init = getattr(html_class, "__init__", None)
    code = getattr(init, "__code__", None)
    if code is None:
        return False
    stored = {
        instruction.argval
        for instruction in dis.get_instructions(code)
        if instruction.opname == "STORE_ATTR"
    }
    return stored == _HTML_ATTRIBUTES


def parsed_document(html_class: type, html: str, url_fetcher: Any) -> Any:
    """`html_class(string=html, url_fetcher=url_fetcher)`, from the XML tree when there
    is one."""
    tree = xml_tree(html)
    if tree is None or not _takes_a_tree(html_class):
        return html_class(string=html, url_fetcher=url_fetcher)
    import cssselect2

    document = html_class.__new__(html_class)
    document.base_url = None  # no <base>: the templates fetch nothing by relative URL
    document.url_fetcher = url_fetcher
    document.media_type = "print"
    document.wrapper_element = cssselect2.ElementWrapper.from_html_root(tree, content_language=None)
    document.etree_element = document.wrapper_element.etree_element
    return document
