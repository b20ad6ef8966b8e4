"""What every search space offers: architectures as token sequences (token ``i`` one of ``choices[i]``
options — the controller's "token by token" view, Zoph & Le 2017), decoded to a plain-JSON genotype and
encoded back, and the child network a genotype builds. Each space is a subclass next to its network
(``nasnet``, ``micro``, ``randwire``, ``nb201``); :data:`cnnlab.nas.spaces.SPACES` lists them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from cnnlab.errors import ConfigError

if TYPE_CHECKING:
    from torch import nn

__all__ = ["SearchSpace"]


class SearchSpace(ABC):
    """``choices[i]`` options for token ``i``; ``kinds[i]`` says what it picks ('op', 'input', ...);
    ``settings`` the options the space was made with."""

    name: ClassVar[str] = "base"

    def __init__(self, choices: tuple[int, ...], kinds: tuple[str, ...], settings: dict[str, Any] | None = None
                 ) -> None:
        self.choices = tuple(int(c) for c in choices)
        self.kinds = tuple(kinds)
        self.settings = dict(settings or {})

    @classmethod
    @abstractmethod
    def from_options(cls, **options: Any) -> SearchSpace:
        """The space for the search command's options (``blocks``, ``ops``, ``nodes``: each space reads
        the ones it has and ignores the others)."""

    @property
    def size(self) -> int:
        total = 1
        for c in self.choices:
            total *= c
        return total

    def check_tokens(self, tokens: list[int]) -> list[int]:
        if len(tokens) != len(self.choices) or any(
            not 0 <= int(t) < c for t, c in zip(tokens, self.choices, strict=False)
        ):
            raise ConfigError(f"{self.name} space: tokens {tokens!r} do not fit choices {list(self.choices)}")
        return [int(t) for t in tokens]

    @abstractmethod
    def decode(self, tokens: list[int]) -> dict[str, Any]:
        """The genotype (plain JSON) of a token sequence."""

    @abstractmethod
    def encode(self, genotype: dict[str, Any]) -> list[int]:
        """The token sequence of a genotype of this space (ConfigError when it is not one)."""

    @classmethod
    @abstractmethod
    def build(cls, genotype: dict[str, Any], num_classes: int, in_chans: int, C: int = 8, N: int = 1) -> nn.Module:
        """The child network of a genotype, sized for small (8x8 … 32x32) images."""

    def shape_flags(self, budget: Any) -> str:
        """The command-line flags besides ``--C`` and ``--batch-size`` that size a child (for messages)."""
        return ""
