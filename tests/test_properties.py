"""Property tests (Hypothesis): the sanitizer, clean_text and the query parser on any input.

The hostile input and the allow-lists the rendered HTML is checked against
are in tests/hostile.py.
"""

from __future__ import annotations

import unicodedata

import pytest
from hostile import CI, FRAGMENTS, PAYLOADS, SAFE_ATTRIBUTES, SAFE_SCHEMES, SAFE_TAGS, html_problems
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kb import sanitize, search
from kb.sanitize import clean_text, render_markdown
from kb.search.query import build_parser, parse_user_query
from kb.search.schema import build_schema
from kb.services.policy import case_visibility

# Property-based: hundreds of generated examples a test.
pytestmark = pytest.mark.slow

markdown_pieces = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.sampled_from(PAYLOADS), st.text(max_size=12)),
    max_size=16,
).map("".join)


def assert_safe_rendering(source: str) -> None:
    html = str(render_markdown(source))
    problems = html_problems(html)
    assert not problems, f"{source!r} rendered as {html!r}: {problems}"


def test_the_sanitizers_allow_lists_are_within_the_tests():
    assert set(sanitize.ALLOWED_TAGS) <= SAFE_TAGS
    for tag, attributes in sanitize.ALLOWED_ATTRIBUTES.items():
        assert set(attributes) <= SAFE_ATTRIBUTES[tag], tag
    assert set(sanitize.ALLOWED_URL_SCHEMES) <= SAFE_SCHEMES


@pytest.mark.parametrize("html", [
    "<script>alert(1)</script>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href=" java\tscript:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<img src="https://elsewhere.example/x.png">',
    '<img src="//elsewhere.example/x.png">',
    '<p onclick="alert(1)">x</p>',
    '<p style="color: red">x</p>',
    "<iframe></iframe>",
    "<!-- note -->",
    "<p>&lt;ok&gt; but <b>bold</b></p>",
])
def test_the_checker_catches_unsafe_html(html):
    """The detector's positive control: unsafe HTML is reported."""
    assert html_problems(html)


def test_the_checker_accepts_what_kb_renders():
    html = ('<h2>T</h2><p><a href="https://x.example/a?b=1&amp;c" rel="noopener">l</a> '
            '<a href="/cases/x">r</a> <a href="mailto:a@x.example">m</a> '
            '<img src="/static/x.png" alt="i"> &lt;script&gt;</p>')
    assert html_problems(html) == []


def test_every_payload_in_the_corpus_renders_safely():
    for payload in PAYLOADS:
        assert_safe_rendering(payload)


@CI
@given(st.text(max_size=2000))
def test_markdown_of_any_text_renders_safely(source):
    assert_safe_rendering(source)


@CI
@given(markdown_pieces)
def test_markdown_built_from_html_markdown_and_payloads_renders_safely(source):
    assert_safe_rendering(source)


@CI
@given(st.lists(st.sampled_from(PAYLOADS), min_size=2, max_size=6).map("\n".join))
def test_payload_lines_together_render_safely(source):
    assert_safe_rendering(source)


# Characters clean_text promises to remove: C0 and C1 controls other than
# tab and newline, zero-width characters and bidirectional overrides.
def _forbidden(char: str, multiline: bool) -> bool:
    if char in "\t\n":
        return not multiline
    return (unicodedata.category(char) == "Cc" or "\u200b" <= char <= "\u200f"
            or "\u202a" <= char <= "\u202e" or "\u2066" <= char <= "\u2069")


# Removable characters, and letters with the marks and jamo that Unicode
# normalisation composes with them: removing one may join the others.
REMOVABLE = "\x00\x07\x0b\x0c\x7f\x85\x9b\u200b\u202e\u2067"
COMPOSING = "eAo\u0301\u0308\u0323\u1100\u1161\u11a8\u304b\u3099"
text_with_controls = st.one_of(
    st.text(max_size=300),
    st.text(st.sampled_from(REMOVABLE + COMPOSING + "\r\n\t "), max_size=40),
)


@CI
@given(text_with_controls, st.booleans())
def test_clean_text_is_idempotent_and_leaves_no_control_characters(value, multiline):
    cleaned = clean_text(value, multiline=multiline)

    assert clean_text(cleaned, multiline=multiline) == cleaned
    assert not [char for char in cleaned if _forbidden(char, multiline)], repr(cleaned)
    assert cleaned == cleaned.strip()
    assert unicodedata.is_normalized("NFC", cleaned)


PARSER = build_parser(build_schema())

query_pieces = st.lists(
    st.one_of(
        st.sampled_from(['"', "(", ")", ":", "-", "+", "AND", "OR", "NOT", "ANDNOT", "ANDMAYBE",
                         "REQUIRE", "title:", "city:", "year:", "[", "]", "{", "}", "*", "?",
                         "~", "^2", " ", "学校", "職業", "직업", "work-based", "e.g.", "\\",
                         "status:", "TO", "'"]),
        st.text(max_size=10),
    ),
    max_size=20,
).map("".join)


@CI
@given(st.one_of(st.text(max_size=600), query_pieces))
def test_the_query_parser_never_raises(text):
    parsed = parse_user_query(PARSER, text)

    assert len(parsed.text) <= 500


@pytest.fixture
def searchable(app, walk_world):
    """An app context on an index holding a published case study."""
    with app.app_context():
        yield


@settings(CI, max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=query_pieces, page=st.integers(min_value=-2, max_value=10**20))
def test_searching_any_query_never_raises(searchable, query, page):
    results = search.search(case_visibility(None), query, page=page)

    assert results.total >= 0
