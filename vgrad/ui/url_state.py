"""The experiment in the URL: readable `preset=NAME&field=value` pairs, validated by RunConfig.

    parsed = parse_params({"preset": "deep-sigmoid", "epochs": "200"})
    parsed.config.epochs == 200 and parsed.preset == "deep-sigmoid"
    query_for(parsed.config, parsed.preset)    # {"preset": "deep-sigmoid", "epochs": "200"}

A malformed or hostile link never raises: bad pairs are dropped and reported in `problems`
(plain sentences, safe to show with `md_escape`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from vgrad.config import FIELDS, ConfigError, RunConfig
from vgrad.presets import PRESETS

PRESET_KEY = "preset"
MAX_PARAMS = 100
MAX_VALUE_CHARS = 200
_MD_SPECIAL = set("\\`*_{}[]()#+-.!|<>$~:&=\"'")


@dataclass(frozen=True)
class UrlConfig:
    config: RunConfig
    preset: str | None = None
    problems: tuple[str, ...] = field(default_factory=tuple)


def md_escape(text: str, limit: int = 300) -> str:
    """Escape Markdown so user-supplied text renders literally (no links, images, HTML)."""
    text = str(text)[:limit]
    text = "".join(" " if ch in "\r\n\t" else ch for ch in text)
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in text)


def _short(text: Any, n: int = 40) -> str:
    text = str(text)
    return repr(text if len(text) <= n else text[: n - 3] + "...")


def value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def parse_params(params: Mapping[str, Any], ignore: Iterable[str] = ()) -> UrlConfig:
    """Build the config a link describes; drop what is invalid and say why."""
    ignore = set(ignore)
    problems: list[str] = []
    pairs: dict[str, str] = {}
    items = list(params.items())
    if len(items) > MAX_PARAMS:
        return UrlConfig(RunConfig(), None, (f"the link has {len(items)} parameters; ignored all of them",))
    for key, value in items:
        key = str(key)
        if key in ignore:
            continue
        if isinstance(value, list | tuple):
            value = value[-1] if value else ""
        value = str(value)
        if key != PRESET_KEY and key not in FIELDS:
            problems.append(f"ignored unknown setting {_short(key)}")
        elif len(value) > MAX_VALUE_CHARS:
            problems.append(f"ignored {key}: the value is {len(value)} characters long")
        else:
            pairs[key] = value
    preset_name = None
    base = RunConfig()
    if PRESET_KEY in pairs:
        name = pairs.pop(PRESET_KEY)
        if name in PRESETS:
            preset_name, base = name, PRESETS[name].config
        else:
            problems.append(f"ignored unknown preset {_short(name)}")
    config = base
    for _ in range(len(pairs) + 1):
        try:
            config = RunConfig.from_query(pairs, base=base)
            break
        except ConfigError as exc:
            culprit = exc.field if exc.field in pairs else None
            if culprit is None:
                problems.append(f"ignored the link's settings ({exc})")
                config = base
                break
            problems.append(f"ignored {culprit}={_short(pairs.pop(culprit))}: {str(exc).split(': ', 1)[-1]}")
    return UrlConfig(config, preset_name, tuple(problems))


def query_for(config: RunConfig, preset: str | None = None) -> dict[str, str]:
    """`{"preset": name, field: text}` with only the fields that differ from the preset (or defaults)."""
    base = PRESETS[preset].config if preset in PRESETS else RunConfig()
    out: dict[str, str] = {PRESET_KEY: preset} if preset in PRESETS else {}
    for name, value in config.to_dict().items():
        if getattr(base, name) != value:
            out[name] = value_text(value)
    return out


def query_string(config: RunConfig, preset: str | None = None) -> str:
    return urlencode(query_for(config, preset))


def share_url(page_url: str | None, config: RunConfig, preset: str | None = None) -> str:
    """The full link to this experiment (page_url without its query)."""
    base = (page_url or "http://localhost:8501/explorer").split("?", 1)[0]
    query = query_string(config, preset)
    return f"{base}?{query}" if query else base


# --- Streamlit side ---------------------------------------------------------------------------

def read_url(ignore: Iterable[str] = ()) -> UrlConfig:
    import streamlit as st

    params = {k: st.query_params.get_all(k) for k in st.query_params}
    return parse_params(params, ignore)


def url_has_config(ignore: Iterable[str] = ()) -> bool:
    import streamlit as st

    ignore = set(ignore)
    return any(k not in ignore for k in st.query_params)


def write_url(config: RunConfig, preset: str | None = None) -> None:
    """Put the experiment in the browser's address bar (only when it changed)."""
    import streamlit as st

    wanted = query_for(config, preset)
    if st.query_params.to_dict() != wanted:
        st.query_params.from_dict(wanted)


def show_share_link(config: RunConfig, preset: str | None = None, container: Any = None) -> str:
    """A copyable link (st.code has a copy button) that restores this experiment."""
    import streamlit as st

    where = container or st
    try:
        page_url = st.context.url
    except Exception:  # noqa: BLE001 (no browser context, e.g. AppTest)
        page_url = None
    link = share_url(page_url, config, preset)
    where.caption("Share this experiment: the link restores it exactly (copy button on the right).")
    where.code(link, language=None, wrap_lines=True)
    return link
