"""Shared pieces of the vgrad charts: colours, fonts, log helpers, step binning.

Nothing here imports Streamlit or TensorFlow; inputs are plain record dicts.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from vgrad.records import Layer, StepRecord
from vgrad.text import MISSING, escape_label

# Colours chosen to stay distinct on a washed-out projector (high saturation, no pastel).
TRAIN = "#1f5fbf"       # strong blue
VAL = "#e8590c"         # strong orange
ACCENT = "#2b8a3e"      # green
MUTED = "#868e96"
# One strong colour per class, distinct on a projector (the first two as before: blue, orange).
CLASS_COLOURS = ("#1f5fbf", "#e8590c", "#2b8a3e", "#c2255c", "#6741d9", "#0c8599", "#8f5d00", "#495057",
                 "#a61e4d", "#5c940d")
GRAD_SCALE = "Viridis"  # sequential, perceptually uniform, readable in greyscale
SAT_SCALE = "OrRd"
DIVERGING = "RdBu_r"    # blue < 0 < red, white at 0
FONT = dict(size=15)

# Readable statistic names.
STAT_LABELS = {
    "grad_norm": "‖dL/dW‖",
    "act_grad_rms": "RMS dL/da",
    "grad_mean_abs": "mean |dL/dW|",
    "grad_max_abs": "max |dL/dW|",
    "bias_grad_norm": "‖dL/db‖",
    "update_ratio": "‖ΔW‖/‖W‖",
}

MAX_COLUMNS = 300
RECENT_COLUMNS = 150

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def pow10_label(k: int) -> str:
    """10 with a superscript exponent: pow10_label(-3) == '10⁻³'."""
    return "10" + str(int(k)).translate(_SUPERSCRIPT)


def class_colour(i: int) -> str:
    return CLASS_COLOURS[i % len(CLASS_COLOURS)]


def stat_label(stat: str) -> str:
    return STAT_LABELS.get(stat, stat)


TITLE_CHARS = 60  # a longer title goes on two lines (a half-width chart on a 1280 px screen fits ~46)
NOTE_CHARS = 40  # an empty chart's note, per line


def wrap_text(text: str, width: int) -> str:
    """Break text at spaces into lines of at most `width` characters, joined by <br> (Plotly's newline); a
    short first word ("2.") stays with the next one."""
    lines: list[str] = []
    for word in str(text).split(" "):
        if lines and (len(lines[-1]) + 1 + len(word) <= width or len(lines[-1]) < 4):
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "<br>".join(lines)


def base_layout(fig: go.Figure, title: str = "", height: int = 360) -> go.Figure:
    """Common layout: large fonts, tight margins, the figure fills its container's width. The legend sits
    at the bottom edge, under the axis titles (the margin grows to hold it), so it never covers a title."""
    text = wrap_text(title, TITLE_CHARS) if title else ""
    lines = text.count("<br>") + 1
    fig.update_layout(
        title=dict(text=text, font=dict(size=17), yref="container", y=1, yanchor="top", pad=dict(t=14 + 18 * (lines - 1)))
        if title else None,
        font=FONT, height=height + 22 * (lines - 1), autosize=True,
        margin=dict(l=10, r=10, t=(50 + 22 * (lines - 1)) if title else 20, b=10),
        legend=dict(orientation="h", yref="container", yanchor="bottom", y=0, xanchor="left", x=0,
                    bgcolor="rgba(0,0,0,0)"),
        hoverlabel=dict(font_size=14),
    )
    return fig


def empty_figure(message: str, height: int = 300) -> go.Figure:
    """A blank figure with a centred note (no data yet)."""
    return go.Figure(_empty_figure_dict(message, height))  # a new object, built from a cached dict


@functools.lru_cache(maxsize=256)
def _empty_figure_dict(message: str, height: int) -> dict:
    fig = go.Figure()
    fig.add_annotation(text=wrap_text(message, NOTE_CHARS), showarrow=False, font=dict(size=16, color=MUTED),
                       xref="paper", yref="paper", x=0.5, y=0.5)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    out = base_layout(fig, height=height).to_dict()
    out["layout"].pop("template", None)  # the default one is added again, without re-validating it
    return out


def layer_labels(layers: Sequence[Layer]) -> list[str]:
    """'1· dense_1 (sigmoid)' style labels, numbered from 1 at the input, escaped for Plotly."""
    return [escape_label(f"{layer.index + 1}· {layer.name}" + (f" ({layer.activation})" if layer.activation else ""))
            for layer in layers]


def stat_matrix(steps: Sequence[StepRecord], stat: str, n_layers: int | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """(step numbers, values[layer, step]) from step records; None -> nan."""
    if not steps:
        return np.zeros(0, dtype=float), np.zeros((n_layers or 0, 0), dtype=float)
    n = n_layers if n_layers is not None else len(steps[0].stat(stat))
    rows = [s.stat(stat) if len(s.stat(stat)) == n else (None,) * n for s in steps]
    values = np.array(rows, dtype=float).reshape(len(steps), n)  # None -> nan
    return np.array([s.step for s in steps], dtype=float), values.T


def safe_log10(values: np.ndarray) -> np.ndarray:
    """log10 with non-positive and non-finite values -> nan."""
    values = np.asarray(values, dtype=float)
    out = np.full(values.shape, np.nan)
    ok = np.isfinite(values) & (values > 0)
    out[ok] = np.log10(values[ok])
    return out


def column_edges(n: int, max_columns: int = MAX_COLUMNS, recent: int = RECENT_COLUMNS) -> np.ndarray:
    """Edges of at most `max_columns` column groups over n steps.

    The last `recent` steps keep one column each; the older ones share the remaining columns
    in near-equal groups. Returns an int array e with groups [e[i], e[i+1]).
    """
    if n <= max_columns:
        return np.arange(n + 1)
    recent = max(1, min(recent, max_columns - 1))
    old = n - recent
    groups = max_columns - recent
    old_edges = np.unique(np.linspace(0, old, groups + 1).round().astype(int))
    return np.concatenate([old_edges, np.arange(old + 1, n + 1)])


def bin_columns(x: np.ndarray, z: np.ndarray, max_columns: int = MAX_COLUMNS,
                recent: int = RECENT_COLUMNS) -> tuple[np.ndarray, np.ndarray]:
    """Aggregate columns of z (rows x steps) into at most max_columns: nan-aware means.

    x (step numbers) becomes each group's mean step. Use on log values for geometric means.
    """
    n = z.shape[1] if z.ndim == 2 else 0
    if n <= max_columns:
        return x, z
    edges = column_edges(n, max_columns, recent)
    starts = edges[:-1]
    finite = np.isfinite(z)
    sums = np.add.reduceat(np.where(finite, z, 0.0), starts, axis=1)
    counts = np.add.reduceat(finite.astype(float), starts, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        zb = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    xb = np.add.reduceat(x, starts) / np.diff(edges)
    return xb, zb


def downsample_line(x: np.ndarray, y: np.ndarray, max_points: int = 600) -> tuple[np.ndarray, np.ndarray]:
    """Bin-mean a long line to at most max_points points (nan-aware)."""
    if len(x) <= max_points:
        return x, y
    xb, yb = bin_columns(np.asarray(x, float), np.asarray(y, float)[None, :], max_points, max_points // 2)
    return xb, yb[0]


def finite_range(*arrays: np.ndarray) -> tuple[float, float] | None:
    vals = [a[np.isfinite(a)] for a in arrays if a is not None and np.size(a)]
    vals = [v for v in vals if v.size]
    if not vals:
        return None
    allv = np.concatenate(vals)
    return float(allv.min()), float(allv.max())


def log_ticks(lo: float, hi: float, max_ticks: int = 8) -> tuple[list[int], list[str]]:
    """Integer powers of ten covering [lo, hi] (in log10 units), thinned to max_ticks."""
    a, b = math.floor(lo), math.ceil(hi)
    if b <= a:
        b = a + 1
    stride = max(1, math.ceil((b - a + 1) / max_ticks))
    vals = list(range(a, b + 1, stride))
    return vals, [pow10_label(v) for v in vals]


def fmt_sci(v: float | None) -> str:
    if v is None or not math.isfinite(v):
        return MISSING
    return f"{v:.3g}" if 1e-3 <= abs(v) < 1e4 or v == 0 else f"{v:.2e}"
