"""See through any nn.Module: shapes, parameters, MACs, FLOPs, memory and receptive field.

Works on any module (cnnlab's or not) and never imports ``cnnlab.nets``.
"""

from __future__ import annotations

from cnnlab.analysis.empirical import empirical_receptive_field
from cnnlab.analysis.field import Field
from cnnlab.analysis.inspect import inspect, parse_input_size
from cnnlab.analysis.report import ReceptiveField, Report, Row
from cnnlab.analysis.stage_table import StageRow, stage_rows, stage_table

__all__ = [
    "inspect", "parse_input_size", "Report", "Row", "ReceptiveField", "Field", "empirical_receptive_field",
    "stage_table", "stage_rows", "StageRow",
]
