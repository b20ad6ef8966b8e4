"""Zero-cost proxies: scores that rank untrained networks from one minibatch, or from none.

Every proxy has one signature, ``score(model, batch) -> float`` (higher = predicted better; ``batch`` is
``(images, labels)``, of which the data-free proxies read only the shape), and the model is never touched:

- data-free: ``synflow`` (Tanaka et al. 2020), ``params``, ``macs`` (:func:`cnnlab.inspect`);
- one batch: ``naswot`` (Mellor et al. 2021), ``jacob_cov`` (Mellor et al. 2020 v1), ``snip``, ``grad_norm``,
  ``fisher`` (as Abdelfattah et al., ICLR 2021, "Zero-Cost Proxies for Lightweight NAS", define and compute them).

``PROXIES`` maps each name to its function. :mod:`cnnlab.nas.proxies.nb201` scores NAS-Bench-201 cells (seeded,
SynFlow once per isomorphism class, by a float32 forward-mode pass); ``cnnlab proxies`` is its command.
"""

from cnnlab.nas.proxies.jacob_cov import jacob_cov
from cnnlab.nas.proxies.naswot import naswot
from cnnlab.nas.proxies.pruning import fisher, grad_norm, snip
from cnnlab.nas.proxies.registry import DATA_FREE, PROXIES, SOURCES, get_proxy, parse_proxies
from cnnlab.nas.proxies.size import macs, params
from cnnlab.nas.proxies.synflow import synflow

__all__ = ["PROXIES", "DATA_FREE", "SOURCES", "get_proxy", "parse_proxies", "synflow", "naswot", "jacob_cov",
           "snip", "grad_norm", "fisher", "params", "macs"]
