"""The one error type cnnlab raises for bad input."""

from __future__ import annotations

__all__ = ["ConfigError"]


class ConfigError(ValueError):
    """A bad hyper-parameter, name, shape or file given to cnnlab.

    Raised where the bad value enters, with a message that names the value and where it came
    from (the unit, block, layer or argument), so a user never has to read a stack trace from
    inside torch to find out what they did wrong.
    """
