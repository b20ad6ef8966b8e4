"""Per-unit runtime profile: MACs, bytes moved, arithmetic intensity, measured latency and the roofline.

``profile(model, input_size)`` (:mod:`.api`) runs a real copy of the network unit by unit
(:mod:`.run`), counts each unit's bytes by a table a user can extend (:mod:`.traffic`), measures this
machine's matmul peak and memory bandwidth (:mod:`.machine`) and returns plain rows (:mod:`.result`),
rendered as tables (:mod:`.render`) and a roofline plot (:mod:`.roofline`).
"""

from __future__ import annotations

from cnnlab.analysis.profile.api import METHODS, profile
from cnnlab.analysis.profile.machine import Machine, measure_machine
from cnnlab.analysis.profile.result import GroupProfile, Profile, UnitProfile
from cnnlab.analysis.profile.roofline import draw_roofline
from cnnlab.analysis.profile.traffic import PLOT_KINDS, bytes_moved, register_bytes_rule, touched_bytes

__all__ = ["METHODS", "PLOT_KINDS", "GroupProfile", "Machine", "Profile", "UnitProfile", "bytes_moved",
           "draw_roofline", "measure_machine", "profile", "register_bytes_rule", "touched_bytes"]
