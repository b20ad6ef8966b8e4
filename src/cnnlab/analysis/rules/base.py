"""One rule type for every op inspect understands, and the public registry to add your own.

A :class:`Rule` says, for one call of a module or a function on meta tensors (a :class:`Call`):

- ``kind``: the row's kind (``conv``, ``linear``, ``pool``, ``norm``, ``act``, ``add``, ...);
- ``cost(call) -> (macs_by_kind, flops_by_kind)``: multiply-accumulates and element-wise flops, each a
  ``{kind: int}`` dict (conventions in :mod:`cnnlab.analysis.rules.conventions`);
- ``field(call)``: how the op moves the spatial grid — a tuple of :class:`~cnnlab.arith.sampling.Sampling`
  for the last dims of its first input (``None`` for a dim it keeps; dims that are not spatial are
  ignored), :data:`PASS` (element-wise: every output position reads the same input position), :data:`END`
  (no positions any more), :class:`Mixes`, :class:`Permute` or :class:`Concat`, or ``None`` to let the walker decide from the
  shapes (positions kept when the spatial sizes are kept, lost otherwise);
- ``shape(call) -> tuple``: the output shape by formula, so the module's forward need not run (optional);
- ``grad_macs(call, needs)``: the backward's MACs by kind, given which tensor arguments need a gradient
  (``needs``, one bool per tensor argument; a unit's own trainable weight counts as needing one). Default:
  a ``conv`` or ``linear`` call costs its forward MACs for the input's gradient (when it needs one) and
  again for the weight's, a ``matmul`` its forward MACs per operand that needs a gradient;
- ``saved(call, needs) -> Saved``: the activations it keeps for the backward (training memory);
- ``note``: a sentence shown on every row of the op.

Like fvcore's ``set_op_handle``, :func:`register_module_rule` and :func:`register_function_rule` let a user
teach inspect a new op without editing cnnlab; a registered rule takes precedence over the built-in one.
A module rule also covers subclasses that do not override ``forward`` (a subclass that pads inside its
forward, as timm's ``Conv2dSame``, is walked op by op instead).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from torch import Tensor, nn

from cnnlab.arith.sampling import Sampling
from cnnlab.errors import ConfigError

__all__ = [
    "Call", "Rule", "Saved", "PASS", "END", "Mixes", "Permute", "Concat", "Costs", "register_module_rule", "register_function_rule", "module_rule", "has_rule_base",
    "function_rule", "method_rule", "check_costs", "check_field", "first_tensor",
]

PASS = "pass"  # every output position reads the same input position (element-wise): the field goes through
END = "end"  # the output has no positions of its own any more (global pooling): the field ends here


@dataclass(frozen=True)
class Mixes:
    """The op mixes all positions along ``dims`` (a linear layer its last dim, a softmax or a norm's statistics
    theirs). If a spatial axis is among them the field there is global: with ``local=True`` each output still
    reads its own position too (softmax, normalisation), so the local field goes on and global context is
    noted; with ``local=False`` (linear) the field ends."""

    dims: tuple[int, ...]
    local: bool = True


@dataclass(frozen=True)
class Permute:
    """The op moves dims: output dim ``i`` is input dim ``order[i]`` (permute, transpose, movedim)."""

    order: tuple[int, ...]


@dataclass(frozen=True)
class Concat:
    """Concatenation along ``dim``: along a spatial axis the maps are laid side by side."""

    dim: int

Costs = tuple[dict[str, int], dict[str, int]]  # (macs by kind, element-wise flops by kind)


def first_tensor(value: object) -> Tensor | None:
    """The first tensor in a value, a tuple / list / dict of values, or None."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (tuple, list)):
        for v in value:
            t = first_tensor(v)
            if t is not None:
                return t
    return None


@dataclass(frozen=True)
class Call:
    """One call of a unit or function on meta tensors, as a rule sees it.

    ``module`` is the unit (a meta copy of the user's module, never the module itself) or None for a
    function; ``target`` the module's type, the function, the method name or the aten op.
    """

    target: object
    args: tuple
    kwargs: dict = field(default_factory=dict)
    module: nn.Module | None = None
    output: object = None

    @property
    def input(self) -> Tensor | None:
        """The first tensor argument."""
        return first_tensor(self.args)

    @property
    def out(self) -> Tensor | None:
        """The first tensor of the output."""
        return first_tensor(self.output)

    def arg(self, index: int, name: str, default: object = None) -> object:
        """Argument ``name`` given by position ``index`` or by keyword."""
        if len(self.args) > index:
            return self.args[index]
        return self.kwargs.get(name, default)


@dataclass(frozen=True)
class Saved:
    """What an op keeps for its backward in a training step: some of its tensor arguments (``inputs``, by
    position among them), its ``output``, and new tensors (batch-norm statistics, max-pooling indices,
    dropout masks) of ``extra_bytes`` in all. Parameters and buffers are not activations: not counted."""

    inputs: tuple[int, ...] = ()
    output: bool = False
    extra_bytes: int = 0


def _no_costs(call: Call) -> Costs:
    return {}, {}


@dataclass(frozen=True)
class Rule:
    """How inspect counts one op and maps its receptive field (module docstring)."""

    kind: str
    cost: Callable[[Call], Costs] = _no_costs
    field: Callable[[Call], object] | None = None
    shape: Callable[[Call], tuple[int, ...] | None] | None = None
    grad_macs: Callable[[Call, tuple[bool, ...]], dict[str, int]] | None = None
    saved: Callable[[Call, tuple[bool, ...]], Saved] | None = None
    note: str = ""  # said on every row of this op (e.g. that its field depends on the data)

    def __post_init__(self) -> None:
        if not isinstance(self.kind, str) or not self.kind:
            raise ConfigError(f"Rule: kind must be a non-empty string, got {self.kind!r}")
        for name in ("cost", "field", "shape", "grad_macs", "saved"):
            value = getattr(self, name)
            if value is not None and not callable(value):
                raise ConfigError(f"Rule({self.kind!r}): {name} must be a function, got {value!r}")


# --- the registries --------------------------------------------------------------------------------
_MODULE_RULES: dict[type, Rule] = {}  # built-in and user rules by module type (user rules replace built-ins)
_FUNCTION_RULES: dict[object, Rule] = {}  # by function object (F.conv2d, torch.cat, operator.add, aten ops)
_METHOD_RULES: dict[str, Rule] = {}  # by tensor method name ("add", "relu_", ...)
_lookup_cache: dict[type, tuple[type, Rule] | None] = {}


def _require_rule(rule: object, target: str) -> Rule:
    if not isinstance(rule, Rule):
        raise ConfigError(f"the rule for {target} must be a cnnlab.analysis.Rule, got {type(rule).__name__}")
    return rule


def register_module_rule(module_type: type, rule: Rule) -> None:
    """Teach inspect a module type: calls of ``module_type`` (and subclasses keeping its forward) use ``rule``."""
    if not isinstance(module_type, type) or not issubclass(module_type, nn.Module):
        raise ConfigError(f"register_module_rule needs an nn.Module subclass, got {module_type!r}")
    _MODULE_RULES[module_type] = _require_rule(rule, module_type.__name__)
    _lookup_cache.clear()


def register_function_rule(function: object, rule: Rule) -> None:
    """Teach inspect a function (``F.conv2d``, ``torch.roll``, your own ``torch.fx.wrap``-ped function, an aten
    op) or, given a string, a tensor method name."""
    if isinstance(function, str):
        if not function.isidentifier():
            raise ConfigError(f"register_function_rule: {function!r} is not a method name")
        _METHOD_RULES[function] = _require_rule(rule, function)
        return
    if not callable(function) or isinstance(function, type):
        raise ConfigError(f"register_function_rule needs a function or a method name, got {function!r}")
    _FUNCTION_RULES[function] = _require_rule(rule, getattr(function, "__name__", repr(function)))


def module_rule(module_type: type) -> Rule | None:
    """The rule for ``module_type``: its own, else its nearest base class's if it inherits that class's forward."""
    if module_type not in _lookup_cache:
        found = None
        for base in module_type.__mro__:
            rule = _MODULE_RULES.get(base)
            if rule is not None:
                found = (base, rule) if base is module_type or module_type.forward is base.forward else None
                break
        _lookup_cache[module_type] = found
    hit = _lookup_cache[module_type]
    return hit[1] if hit is not None else None


def has_rule_base(module_type: type) -> bool:
    """True for a subclass of a ruled module that overrides its forward (walked op by op, as a unit)."""
    return module_rule(module_type) is None and any(base in _MODULE_RULES for base in module_type.__mro__[1:])


def function_rule(function: object) -> Rule | None:
    try:
        return _FUNCTION_RULES.get(function)
    except TypeError:  # unhashable target
        return None


def method_rule(name: str) -> Rule | None:
    return _METHOD_RULES.get(name)


# --- what a rule returns ---------------------------------------------------------------------------
def _where(rule: Rule, path: str) -> str:
    return f"the {rule.kind!r} rule at {path!r}"


def check_costs(rule: Rule, path: str, value: object) -> Costs:
    """A rule's cost result, validated: two dicts of str -> non-negative int."""
    ok = isinstance(value, tuple) and len(value) == 2 and all(
        isinstance(d, dict) and all(isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 0
                                    for k, v in d.items()) for d in value)
    if not ok:
        raise ConfigError(f"{_where(rule, path)} returned {value!r} from cost(); expected (macs_by_kind, "
                          "flops_by_kind), two dicts of str -> int ≥ 0")
    return value  # type: ignore[return-value]


def check_field(rule: Rule, path: str, value: object) -> object:
    """A rule's field result, validated: PASS, END, Mixes, Concat, None, or a tuple of Sampling-or-None."""
    if value is None or value in (PASS, END) or isinstance(value, (Mixes, Concat, Permute)):
        return value
    if isinstance(value, Sampling):
        value = (value,)
    if isinstance(value, (tuple, list)) and value and all(v is None or isinstance(v, Sampling) for v in value):
        return tuple(value)
    raise ConfigError(f"{_where(rule, path)} returned {value!r} from field(); expected PASS, END, Mixes, Concat, "
                      "None or a tuple of cnnlab.arith.sampling.Sampling (or None), one per last dim")
