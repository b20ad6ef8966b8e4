"""See through any nn.Module: shapes, parameters, MACs, FLOPs, memory and receptive field.

Works on any module (cnnlab's or not) and never imports ``cnnlab.nets``. Three parts:
``walk`` (fx graph or hooks, both through one core), ``rules`` (what each op costs and how it maps the
receptive field; extend them with :func:`register_module_rule` / :func:`register_function_rule`) and
``render`` (the report, tree, stage table and pictures).
"""

from __future__ import annotations

from cnnlab.analysis.empirical import empirical_receptive_field, gradient_boxes
from cnnlab.analysis.inspect import inspect, parse_input_size
from cnnlab.analysis.render.report import ReceptiveField, Report, Row
from cnnlab.analysis.rules import (
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
from cnnlab.analysis.stage_table import StageRow, stage_rows, stage_table

__all__ = [
    "inspect", "parse_input_size", "Report", "Row", "ReceptiveField", "empirical_receptive_field", "gradient_boxes",
    "stage_table", "stage_rows", "StageRow", "Rule", "Call", "PASS", "END", "Mixes", "Permute", "Concat",
    "register_module_rule", "register_function_rule",
]
