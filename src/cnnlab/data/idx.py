"""Reader for the IDX format of MNIST and Fashion-MNIST (LeCun et al., http://yann.lecun.com/exdb/mnist/).

Header: two zero bytes, a type code (0x08 = unsigned byte), the number of dimensions, then one
big-endian int32 per dimension; the data follows. Files may be gzip-compressed.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from cnnlab.errors import ConfigError

__all__ = ["read_idx"]

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (raw or ``.gz``) into a numpy array of its declared shape."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise ConfigError(f"cannot read IDX file {path}: {exc}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise ConfigError(f"{path} is not an IDX file (bad magic number {raw[:4].hex()})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">i4", count=ndim, offset=4))
    data = np.frombuffer(raw, dtype=_DTYPES[raw[2]], offset=header)
    if data.size != int(np.prod(shape)):
        raise ConfigError(f"{path}: header says shape {shape} but holds {data.size} values (truncated?)")
    return data.reshape(shape)
