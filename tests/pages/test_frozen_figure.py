"""figures.Frozen: a chart drawn from a frozen figure sends exactly what the plain figure would."""

from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go
import plotly.io
from streamlit.testing.v1 import AppTest

from vgrad.ui import figures


def _figure() -> go.Figure:
    fig = go.Figure(go.Heatmap(z=np.arange(12.0).reshape(3, 4) ** 0.5, colorscale="Viridis"))
    fig.add_trace(go.Scatter(x=[1, 2, 3], y=[np.nan, 2.5, 1e-30], mode="lines"))
    return fig.update_layout(title="a <b>title</b>", height=300)


def test_the_frozen_json_is_plotlys_and_is_made_once():
    plain, frozen = _figure(), figures.Frozen(_figure())
    sent = plotly.io.to_json(frozen.to_dict(), validate=False)  # st.plotly_chart's call
    assert sent == figures._plotly_to_json(plain, validate=False)
    assert plotly.io.to_json(frozen.to_dict(), validate=False) is sent  # made once
    assert plotly.io.to_json(frozen, validate=False) == sent
    assert plotly.io.to_json(frozen.to_dict(), pretty=True) != sent  # other calls are plotly's own
    assert plotly.io.to_json(plain) == figures._plotly_to_json(plain)


def _page() -> None:
    import streamlit as st

    from tests.pages.test_frozen_figure import _figure
    from vgrad.ui import figures

    st.plotly_chart(_figure(), key="plain")
    figures.chart("frozen", ("t",), _figure)
    figures.chart("frozen2", ("t",), _figure)


def test_a_page_sends_the_same_spec_for_both_and_encodes_a_frozen_one_once(monkeypatch):
    encoded = []
    original = figures._plotly_to_json
    monkeypatch.setattr(figures, "_plotly_to_json", lambda fig, **kw: encoded.append(1) or original(fig, **kw))
    at = AppTest.from_function(_page, default_timeout=30)
    at.run()
    assert not at.exception, at.exception
    for _ in range(3):  # later runs draw the cached figures
        specs = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
        assert len(specs) == 3 and specs[0] == specs[1] == specs[2]
        at.run()
    assert len(encoded) == 4 + 2  # the plain figure on each of the 4 runs; each frozen one once
