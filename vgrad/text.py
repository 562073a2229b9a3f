"""Numbers and user text for people: one spelling of a missing value, one escaper per medium.

    num(3.2e-5)            # '3.2e-05'
    power_text(3.2e-5)     # '10^-4.5'
    orders_text(4.4)       # '4.4 orders (25,119x smaller at the input)'
    num(None)              # MISSING ('–')
    escape_markdown("**x** <b>")   # shown literally by st.markdown
    escape_label("<a href=...>")   # shown literally by Plotly (titles, axes, legends, hovers)
    json_safe({"x": [nan]})        # {"x": [None]}: what JSON (and a browser) accepts
"""

from __future__ import annotations

import html
import math
import re
from typing import Any

MISSING = "–"


def _finite(v: Any) -> bool:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:
        return False


def json_safe(obj: Any) -> Any:
    """`obj` with every NaN and infinity (in dicts, lists and tuples) replaced by None."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    return obj


def num(v: Any, digits: int = 3) -> str:
    """A number in `digits` significant digits (scientific when tiny or huge); MISSING if none."""
    if not _finite(v):
        return MISSING
    v = float(v)
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e4):
        return f"{v:.{max(1, digits - 1)}e}"
    return f"{v:.{digits}g}"


def pct(v: Any, digits: int = 1) -> str:
    """0.853 -> '85.3%'; MISSING if none."""
    return f"{100 * float(v):.{digits}f}%" if _finite(v) else MISSING


def power_text(ratio: Any) -> str:
    """A ratio for people: 3.2e-5 -> '10^-4.5', 0.42 -> '0.42x', 250 -> '10^2.4'."""
    if not _finite(ratio):
        return MISSING
    if ratio <= 0:
        return "0"
    orders = math.log10(ratio)
    if abs(orders) < 1:
        return f"{ratio:.2g}x"
    return f"10^{orders:.1f}"


def orders_short(orders: Any) -> str:
    """Attenuation in orders of magnitude: '4.4', '∞' (first layer's gradient exactly 0), MISSING."""
    if isinstance(orders, float) and math.isinf(orders) and orders > 0:
        return "∞"
    return f"{orders:.1f}" if _finite(orders) else MISSING


def orders_text(orders: Any) -> str:
    """'4.4 orders (25,119x smaller at the input)'; '∞ (the first layer's gradient is exactly 0)'."""
    if isinstance(orders, float) and math.isinf(orders) and orders > 0:
        return "∞ (the first layer's gradient is exactly 0)"
    if not _finite(orders):
        return MISSING
    factor = 10 ** abs(orders)
    size = f"{factor:,.0f}x" if factor < 1e6 else f"10^{abs(orders):.1f}x"
    return f"{orders:.1f} orders ({size} {'smaller' if orders >= 0 else 'larger'} at the input)"


def short(value: Any, limit: int = 40) -> str:
    """repr() of a value for an error message, cut to `limit` characters."""
    try:
        text = repr(value)
    except ValueError:  # an int too long to print
        return f"an integer of {value.bit_length()} bits"
    return text if len(text) <= limit else text[:limit - 3] + "..."


_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|~:$=\"'])")


def escape_markdown(text: Any, limit: int | None = 1000) -> str:
    """User text for st.markdown / st.error / captions: shown exactly, never as Markdown or HTML.

    `**bold**`, `[link](url)`, `$x$`, `:red[...]`, `<script>` lose their meaning; newlines become
    line breaks. `limit` cuts the text first (characters)."""
    text = str(text)
    if limit is not None and len(text) > limit:
        text = text[:limit - 1] + "…"
    text = html.escape("".join(" " if ch in "\r\t" else ch for ch in text), quote=False)
    return _MARKDOWN_SPECIALS.sub(r"\\\1", text).replace("\n", "  \n")


def escape_label(text: Any, limit: int | None = 200) -> str:
    """User text for Plotly labels, which render a subset of HTML (links, <b>, styles): shown literally."""
    text = str(text)
    if limit is not None and len(text) > limit:
        text = text[:limit - 1] + "…"
    return html.escape(text, quote=True).replace("\n", " ")
