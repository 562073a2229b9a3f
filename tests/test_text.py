"""vgrad.text: one spelling of a missing value, numbers for people, and the two escapers."""

from __future__ import annotations

import math

from vgrad.text import MISSING, escape_label, escape_markdown, num, orders_short, orders_text, pct, power_text


def test_missing_is_spelled_once():
    for v in (None, math.nan, math.inf, "x", 10**400):
        assert num(v) == MISSING and pct(v) == MISSING and power_text(v) == MISSING
    assert orders_short(math.nan) == MISSING and orders_text(None) == MISSING


def test_numbers():
    assert num(3.2e-5) == "3.20e-05" and num(0.12345) == "0.123" and num(12345.0) == "1.23e+04"
    assert pct(0.853) == "85.3%" and pct(1, 0) == "100%"
    assert power_text(3.2e-5) == "10^-4.5" and power_text(0.42) == "0.42x" and power_text(0.0) == "0"
    assert orders_short(4.44) == "4.4" and orders_short(math.inf) == "∞"
    assert orders_text(3.0) == "3.0 orders (1,000x smaller at the input)"
    assert orders_text(-1.0).endswith("larger at the input)") and orders_text(math.inf).startswith("∞")


def test_escape_markdown_shows_text_literally():
    text = escape_markdown("<img src=x onerror=alert(1)> **b** [l](javascript:x) $x$ :red[y]")
    assert "<img" not in text and "&lt;img" in text
    assert "\\*\\*b\\*\\*" in text and "\\[l\\]\\(javascript\\:x\\)" in text and "\\$x\\$" in text
    assert "\\:red\\[y\\]" in text
    assert escape_markdown("a" * 2000, 10) == "a" * 9 + "…"


def test_escape_label_keeps_plotly_from_rendering_markup():
    assert escape_label("<b>x</b>") == "&lt;b&gt;x&lt;/b&gt;"
    link = escape_label('<a href="https://evil.example">click</a>')
    assert "<a" not in link and "&quot;" in link


def test_json_safe_turns_every_nan_and_infinity_into_none():
    from vgrad.text import json_safe

    got = json_safe({"a": float("nan"), "b": [1.0, float("inf"), (float("-inf"), 2)], "c": "nan", "d": 3})
    assert got == {"a": None, "b": [1.0, None, [None, 2]], "c": "nan", "d": 3}
