"""Layer arithmetic: sizes, receptive fields and costs, in pure Python (no torch import).

- :mod:`~cnnlab.arith.sizes`: output sizes of conv / pooling / transposed conv, effective kernel,
  "same" padding.
- :mod:`~cnnlab.arith.receptive_field`: the lecture's recurrence ``(n, j, r, start)`` along a chain;
  :mod:`~cnnlab.arith.sampling` (which inputs each output position of an op reads) and
  :mod:`~cnnlab.arith.field` (the exact field of every unit, one period of it) underneath.
- :mod:`~cnnlab.arith.spec`: the text form ``"conv k3 s2 p1, pool k2"`` of a chain.
- :mod:`~cnnlab.arith.cost`: MACs and parameters (standard, grouped, depthwise separable, linear).
- :mod:`~cnnlab.arith.checks`: validators that raise :class:`cnnlab.ConfigError`.
"""

from cnnlab.arith.checks import (  # noqa: F401
    pair,
    require_choice,
    require_divisible,
    require_int,
    require_non_negative,
    require_positive,
    require_probability,
)
from cnnlab.arith.cost import (  # noqa: F401
    conv_macs,
    conv_params,
    depthwise_separable_macs,
    depthwise_separable_params,
    grouped_conv_macs,
    grouped_conv_params,
    linear_macs,
    linear_params,
    separable_cost_ratio,
)
from cnnlab.arith.field import INPUT_AXIS, AxisField  # noqa: F401
from cnnlab.arith.receptive_field import (  # noqa: F401
    KINDS,
    UPSAMPLE_MODES,
    Layer,
    RFRow,
    feature_center,
    format_rf_table,
    receptive_field,
    receptive_field_2d,
)
from cnnlab.arith.sizes import (  # noqa: F401
    conv_output_size,
    effective_kernel,
    pool_output_size,
    same_padding,
    transposed_conv_output_size,
)
from cnnlab.arith.spec import format_layer, parse_layers  # noqa: F401
