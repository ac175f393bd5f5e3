"""HTML body → plain text, keeping line structure and marking quotes and signatures."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, CData, NavigableString, Tag

__all__ = ["MAX_HTML_CHARS", "html_to_text"]

#: HTML beyond this many characters (after dropping inline data: URIs) is not converted:
#: BeautifulSoup needs ~100 bytes of memory per input byte, and no complaint is this long
MAX_HTML_CHARS = 2_000_000

_SKIP = {
    "head", "title", "script", "style", "meta", "link", "noscript", "template",
    "img", "object", "embed", "iframe", "svg", "map", "area", "button", "input", "select",
}  # fmt: skip
_BLOCK = {
    "div", "li", "tr", "ul", "ol", "dl", "dt", "dd", "table", "tbody", "thead", "tfoot",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "section", "article", "header", "footer",
    "address", "center", "form", "fieldset", "nav", "aside", "main", "figure", "caption",
}  # fmt: skip
_PARAGRAPH = {"p", "pre", "blockquote", "h1", "h2", "h3"}
_CELL = {"td", "th"}
_HIDDEN = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden|mso-hide\s*:\s*all", re.I)
_SIGNATURE = re.compile(r"signature|qmSign", re.I)
_WS = re.compile(r"[ \t\r\n\f\v\u00a0\u200b\u3000]+")
_DATA_URI = re.compile(r"data:[\w/+.-]*;base64,[\w+/=\s]*", re.I)
_END = object()  # stack marker: the element whose children were just emitted


class _Writer:
    """Accumulates lines; lines begun inside <blockquote> get "> " per nesting level."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.current: list[str] = []
        self.prefix = ""
        self.quote_depth = 0

    def text(self, value: str, pre: bool) -> None:
        if not pre:
            value = _WS.sub(" ", value)
            if not self.current:
                value = value.lstrip()
            if value:
                self._add(value)
            return
        first, *rest = value.replace("\r\n", "\n").split("\n")
        self._add(first)
        for part in rest:
            self.newline(force=True)
            self._add(part)

    def _add(self, value: str) -> None:
        if not value:
            return
        if not self.current:
            self.prefix = "> " * self.quote_depth
        self.current.append(value)

    def newline(self, force: bool = False) -> None:
        if self.current:
            self.lines.append((self.prefix + "".join(self.current)).rstrip())
            self.current = []
        elif force:
            self.lines.append("")

    def blank(self) -> None:
        self.newline()
        if self.lines and self.lines[-1] != "":
            self.lines.append("")

    def result(self) -> str:
        self.newline()
        return "\n".join(self.lines).strip("\n")


def _hidden(tag: Tag) -> bool:
    style = tag.get("style")
    return tag.has_attr("hidden") or (isinstance(style, str) and bool(_HIDDEN.search(style)))


def _is_signature(tag: Tag) -> bool:
    names = [tag.get("id") or "", *(tag.get("class") or [])]
    return any(isinstance(name, str) and _SIGNATURE.search(name) for name in names)


def html_to_text(html: str) -> str:
    """Readable text of an HTML mail body.

    Drops head, script, style, images (tracking pixels) and hidden elements; breaks
    lines at <br>, <p>, <div>, <li>, <tr> and other blocks; prefixes blockquote
    lines with "> " and puts a "-- " line before a signature block, so the plain-text
    quote and signature rules apply unchanged. Iterative: deep nesting is safe.
    Inline ``data:`` images are dropped first; the rest is cut at :data:`MAX_HTML_CHARS`.
    """
    html = _DATA_URI.sub("", html)[:MAX_HTML_CHARS]
    soup = BeautifulSoup(html, "lxml")
    out = _Writer()
    pre_depth = 0
    stack: list[object] = [soup]
    while stack:
        node = stack.pop()
        if isinstance(node, tuple):  # (_END, tag)
            tag = node[1]
            name = tag.name
            if name == "pre":
                pre_depth -= 1
            if name == "blockquote":
                out.newline()
                out.quote_depth -= 1
            if name in _PARAGRAPH:
                out.blank()
            elif name in _BLOCK:
                out.newline()
            elif name in _CELL:
                out.text(" ", pre=False)
            continue
        if isinstance(node, NavigableString):
            if type(node) in (NavigableString, CData):
                out.text(str(node), pre=pre_depth > 0)
            continue
        if not isinstance(node, Tag):
            continue
        name = node.name
        if name in _SKIP or _hidden(node):
            continue
        if name == "br":
            out.newline(force=True)
            continue
        if name in _PARAGRAPH:
            out.blank()
        elif name in _BLOCK:
            out.newline()
        if name == "blockquote":
            out.quote_depth += 1
        if name == "pre":
            pre_depth += 1
        if _is_signature(node):
            out.newline()
            out.lines.append("-- ")
        stack.append((_END, node))
        stack.extend(reversed(node.contents))
    return out.result()
