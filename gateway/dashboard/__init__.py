"""The dashboard at `/stats/ui` (and `/stats?format=html`): the `/stats` document rendered as
one self-contained page (inline CSS, inline SVG charts, one inline script that re-renders it
in place every few seconds; nothing loaded from elsewhere)."""

from gateway.dashboard.assets import CSP
from gateway.dashboard.page import SECTIONS, render_main, render_page

__all__ = ["CSP", "SECTIONS", "render_main", "render_page"]
