"""Compare networks the way the lecture does: accuracy vs compute vs size, as a table, a chart and
a self-contained HTML report, with every model trained under one shared, resumable budget.

``run_compare(specs, CompareConfig(out=...))`` does it all; ``spec_from_registry(name)`` turns a
registered model name into a spec; ``published_facts(name)`` gives the published ImageNet numbers.
"""

from __future__ import annotations

from cnnlab.compare.measure import LatencySettings
from cnnlab.compare.published import PublishedFacts, all_published, published_facts
from cnnlab.compare.run import CompareConfig, CompareResult, run_compare
from cnnlab.compare.specs import ModelSpec, spec_from_registry, specs_from_registry
from cnnlab.compare.table import COLUMNS, ComparisonRow

__all__ = [
    "COLUMNS",
    "CompareConfig",
    "CompareResult",
    "ComparisonRow",
    "LatencySettings",
    "ModelSpec",
    "PublishedFacts",
    "all_published",
    "published_facts",
    "run_compare",
    "spec_from_registry",
    "specs_from_registry",
]
