"""``cnnlab.explore``: an offline HTML page to walk through any network — its tree of stages, blocks and
units as a graph, every unit's numbers (shape, params, MACs, receptive field), the field drawn on an image,
and the unit's window animated with its own kernel, padding, stride and dilation."""

from __future__ import annotations

from cnnlab.explore.page import build_page, explore, page_data, render_page
from cnnlab.explore.trace import trace

__all__ = ["build_page", "explore", "page_data", "render_page", "trace"]
