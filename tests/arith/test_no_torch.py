"""cnnlab.arith is pure Python: importing it must not import torch."""

from __future__ import annotations

import subprocess
import sys


def test_import_arith_does_not_import_torch():
    code = (
        "import sys, cnnlab.arith\n"
        "from cnnlab import arith\n"
        "arith.receptive_field(arith.parse_layers('conv k3 s2 p1'), n=5)\n"
        "assert 'torch' not in sys.modules, 'cnnlab.arith imported torch'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
