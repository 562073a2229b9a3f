"""Shared pieces of the browser tests: Debian's chromium, screenshots, polling."""

from __future__ import annotations

from pathlib import Path

from tests.service.helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
EXCEPTION = '[data-testid="stException"]'


def shot(page, name: str, full_page: bool = False) -> None:
    """Save a screenshot to artifacts/screenshots/NAME.png."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def wait(predicate, timeout: float, step: float = 0.25):
    """Poll `predicate` until it returns something truthy or `timeout` passes; its last value."""
    try:
        return wait_for(predicate, timeout, step)
    except AssertionError:  # timed out: the caller asserts on the value itself
        return predicate()


# Every Plotly figure's texts that collide: title, legend entries, annotations, axis titles and tick labels
# that overlap each other, leave the figure, or (all but annotations) lie on a plot area. Colour bars
# are left out; rotated tick labels are only checked against the rest.
OVERLAPS_JS = """() => {
  const box = el => { const r = el.getBoundingClientRect(); return {x0: r.left, y0: r.top, x1: r.right, y1: r.bottom}; };
  const meet = (a, b, pad) => a.x0 + pad < b.x1 && b.x0 + pad < a.x1 && a.y0 + pad < b.y1 && b.y0 + pad < a.y1;
  const out = [];
  document.querySelectorAll('.js-plotly-plot').forEach((gd, n) => {
    const title = (((gd.layout || {}).title || {}).text || `figure ${n}`).replace(/<[^>]+>/g, ' ');
    const texts = [];
    const add = (sel, kind) => gd.querySelectorAll(sel).forEach(el => {
      if (el.closest('.colorbar') || !(el.textContent || '').trim()) return;
      const b = box(el);
      const spin = (el.getAttribute('transform') || '') + ((el.parentNode.getAttribute && el.parentNode.getAttribute('transform')) || '');
      if (b.x1 - b.x0 > 0.5 && b.y1 - b.y0 > 0.5)
        texts.push({kind, text: el.textContent.trim().slice(0, 40), b, rotated: /rotate\\((?!0[ ,)])/.test(spin)});
    });
    add('.gtitle', 'title');
    add('.legend .legendtext', 'legend');
    add('.annotation-text-g text', 'annotation');
    add('.infolayer text[class^="x"][class$="title"], .infolayer text[class^="y"][class$="title"]', 'axis title');
    add('g[class$="tick"] text', 'tick');
    const areas = [...gd.querySelectorAll('.nsewdrag')].map(box);
    const g = box(gd);
    texts.forEach((a, i) => {
      texts.slice(i + 1).forEach(b => {
        if (a.kind === 'legend' && b.kind === 'legend') return;
        if (a.kind === 'tick' && b.kind === 'tick' && (a.rotated || b.rotated)) return;
        if (meet(a.b, b.b, 1)) out.push(`${title}: ${a.kind} "${a.text}" overlaps ${b.kind} "${b.text}"`);
      });
      if (a.b.x0 < g.x0 - 1 || a.b.x1 > g.x1 + 1 || a.b.y0 < g.y0 - 1 || a.b.y1 > g.y1 + 1)
        out.push(`${title}: ${a.kind} "${a.text}" is cut at the figure's edge`);
      if (a.kind !== 'annotation' && areas.some(area => meet(a.b, area, 2)))
        out.push(`${title}: ${a.kind} "${a.text}" lies on a plot area`);
    });
  });
  return out;
}"""

# Text of the headline metrics that does not fit its box (cut with an ellipsis).
CUT_METRICS_JS = """() => [...document.querySelectorAll('[data-testid="stMetric"] *')]
  .filter(e => e.children.length === 0 && e.innerText && e.scrollWidth > e.clientWidth + 1).map(e => e.innerText)"""

# Tables that scroll sideways: [scroll width, visible width] of each one that does.
WIDE_TABLES_JS = """() => [...document.querySelectorAll('[data-testid="stDataFrame"] .dvn-scroller')]
  .filter(s => s.scrollWidth > s.clientWidth + 1).map(s => [s.scrollWidth, s.clientWidth])"""


def tour(page, name: str, screens: int = 12) -> list[str]:
    """Screenshots of the page one screen at a time (Streamlit scrolls inside its main block), saved as
    NAME_1.png, NAME_2.png ... until the bottom; returns their names."""
    main = page.get_by_test_id("stMain")
    main.evaluate("m => m.scrollTo(0, 0)")
    page.wait_for_timeout(500)
    names = []
    for i in range(1, screens + 1):
        names.append(f"{name}_{i}")
        shot(page, names[-1])
        at = main.evaluate("m => { const before = m.scrollTop; m.scrollBy(0, m.clientHeight * 0.85); "
                           "return m.scrollTop > before; }")
        if not at:
            break
        page.wait_for_timeout(700)
    main.evaluate("m => m.scrollTo(0, 0)")
    return names
