"""What inspect knows about each op: one :class:`~cnnlab.analysis.rules.base.Rule` type, the built-in rules for
torch.nn modules, functions and aten ops, and cnnlab's own units, registered through the public registry."""

from cnnlab.analysis.rules import functions, modules, units  # noqa: F401 - registers the built-in rules
from cnnlab.analysis.rules.base import (  # noqa: F401
    END,
    PASS,
    Call,
    Concat,
    Mixes,
    Permute,
    Rule,
    register_function_rule,
    register_module_rule,
)
