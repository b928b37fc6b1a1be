"""Hostile input for the property tests: XSS payloads, HTML fragments, a safety check.

The allow-lists here are the tests' own: a tag or attribute the sanitizer
starts allowing fails the tests until someone decides it is safe and adds it.
Settings are deterministic (``derandomize``), so a CI run explores the same
examples every time and a failure reproduces.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import settings

# Kept in the repository (tests/data/xss/README.md says where it came from).
PAYLOADS_FILE = Path(__file__).resolve().parent / "data" / "xss" / "payloads.txt"

CI = settings(derandomize=True, max_examples=200, deadline=None, database=None)

SAFE_TAGS = {
    "p", "br", "hr", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "code",
    "em", "strong", "del", "s", "sup", "sub", "a", "img",
    "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td",
}
SAFE_ATTRIBUTES = {
    "a": {"href", "title", "rel"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "th": {"align"},
    "td": {"align"},
}
SAFE_SCHEMES = {"http", "https", "mailto"}
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")


def _payloads() -> list[str]:
    if not PAYLOADS_FILE.is_file():
        pytest.fail(f"the XSS payload corpus is missing: {PAYLOADS_FILE}")
    lines = [line for line in PAYLOADS_FILE.read_text(encoding="utf-8").splitlines() if line]
    assert len(lines) > 1000, f"{PAYLOADS_FILE} looks truncated"
    return lines


PAYLOADS = _payloads()

# Pieces of HTML and Markdown that, glued together, make the tricky cases.
FRAGMENTS = [
    "<", ">", "</", "/>", "<script>", "</script>", "<style>", "<iframe src=", "<svg",
    "<img src=x onerror=alert(1)>", "<a href=\"", "\">", "'", "\"", "=", " ", "\n", "\n\n",
    "\t", "javascript:", "JaVaScRiPt:", "java\tscript:", "&#106;avascript:", "&#x6A;",
    "vbscript:", "data:text/html,", "//evil.example/", "/\\evil.example", "http://", "https://",
    "mailto:", "[link](", "](", ")", "![img](", "[ref]: ", "<http://x.example>",
    "<javascript:alert(1)>", "`", "```", "    ", "> ", "* ", "1. ", "# ", "| a | b |\n|---|---|\n",
    "**", "_", "~~", "\\", "&", "&lt;", "&amp;", "<!--", "-->", "<![CDATA[", "]]>",
    "<!DOCTYPE html>", "<math>", "onload=", " onmouseover=", "style=", "\u202e", "\x00", "\u200b",
]


class SafetyChecker(HTMLParser):
    """Collects every way a piece of HTML falls outside what kb may show."""

    def __init__(self):
        # Character references stay as they are, so that a "<" in the text
        # can only be markup the sanitizer let through unescaped.
        super().__init__(convert_charrefs=False)
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in SAFE_TAGS:
            self.problems.append(f"tag <{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"event handler {name}")
            elif name not in SAFE_ATTRIBUTES.get(tag, set()):
                self.problems.append(f"attribute {name} on <{tag}>")
            elif name in ("href", "src"):
                self.problems.extend(url_problems(tag, name, value or ""))

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag):
        if tag not in SAFE_TAGS:
            self.problems.append(f"end tag </{tag}>")

    def handle_data(self, data):
        if "<" in data:
            self.problems.append(f"unescaped '<' in text {data!r}")

    def handle_comment(self, data):
        self.problems.append("comment")

    def handle_decl(self, decl):
        self.problems.append(f"declaration {decl!r}")

    def handle_pi(self, data):
        self.problems.append(f"processing instruction {data!r}")

    def unknown_decl(self, data):
        self.problems.append(f"declaration {data!r}")


def url_problems(tag: str, attribute: str, value: str) -> list[str]:
    """Why a link or image address could run script or leave the site; [] when it is fine."""
    # What browsers do before reading a URL: trim C0 controls and spaces,
    # drop tabs and newlines anywhere.
    url = re.sub(r"[\t\n\r]", "", value).strip("".join(map(chr, range(0x21))))
    match = _SCHEME.match(url)
    if match and match.group(1).lower() not in SAFE_SCHEMES:
        return [f"{attribute}={value!r} on <{tag}>"]
    if tag == "img" and (not url.startswith("/") or url.startswith(("//", "/\\"))):
        return [f"image from elsewhere {value!r}"]
    return []


def html_problems(html: str) -> list[str]:
    """Everything unsafe in ``html``; [] for HTML kb may put in a page."""
    checker = SafetyChecker()
    checker.feed(html)
    checker.close()
    lowered = html.lower()
    checker.problems.extend(f"{element} element" for element in ("<script", "<style", "<iframe")
                            if element in lowered)
    return checker.problems
