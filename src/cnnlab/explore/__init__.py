"""``cnnlab.explore``: an offline HTML page to walk through any network — its tree of stages, blocks and
units as a graph, every unit's numbers (shape, params, MACs, receptive field), the field drawn on an image,
and the unit's window animated with its own kernel, padding, stride and dilation.

``cnnlab.explore(model, input_size, image=None, out="explore.html")`` writes the page: the package itself is
callable (it is both the package and the function, so ``import cnnlab.explore`` never hides the function).
"""

from __future__ import annotations

import sys
import types

from cnnlab.explore.page import build_page, explore, page_data, render_page
from cnnlab.explore.trace import trace

__all__ = ["build_page", "explore", "page_data", "render_page", "trace"]


class _CallableModule(types.ModuleType):
    def __call__(self, *args: object, **kwargs: object) -> object:
        return explore(*args, **kwargs)

    __call__.__doc__ = explore.__doc__


sys.modules[__name__].__class__ = _CallableModule
