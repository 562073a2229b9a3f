"""The page's state in the browser's address bar, in vgrad.links' format.

    link = read_run()                   # the RunLink the address bar describes (never raises)
    write(links.run_query(config, preset))
    show_share_link(links.run_query(config, preset))
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import streamlit as st

from vgrad import links


def params() -> dict[str, list[str]]:
    """The address bar's query pairs, every value of a repeated key."""
    return {k: st.query_params.get_all(k) for k in st.query_params}


def read_run(ignore: Iterable[str] = ()) -> links.RunLink:
    return links.parse_run(params(), ignore)


def has_params(ignore: Iterable[str] = ()) -> bool:
    ignore = set(ignore)
    return any(k not in ignore for k in st.query_params)


def current() -> dict[str, str]:
    """The address bar as one value per key (the last)."""
    return {k: st.query_params.get_all(k)[-1] for k in st.query_params}


def write(query: Mapping[str, str], keep: Iterable[str] = ()) -> None:
    """Put `query` in the address bar (only when it changed); keys in `keep` stay as they are."""
    wanted = dict(query)
    for key in keep:
        if key in st.query_params and key not in wanted:
            wanted[key] = st.query_params[key]
    if current() != wanted:
        st.query_params.from_dict(wanted)


def page_url() -> str | None:
    try:
        return st.context.url
    except Exception:  # noqa: BLE001 (no browser context, e.g. AppTest)
        return None


def show_share_link(query: Mapping[str, str], container: Any = None, what: str = "experiment") -> str:
    """A copyable link (st.code has a copy button) that restores this page's state."""
    where = container or st
    link = links.page_url(page_url(), query)
    where.caption(f"Share this {what}: the link restores it exactly (copy button on the right).")
    where.code(link, language=None, wrap_lines=True)
    return link
