"""The numbers behind a drift verdict, shared by the data plane and the operator.

Numpy-free on purpose: the operator image has no numpy, and judges batch summaries and
drift-watch windows by these same numbers.
"""

from __future__ import annotations

import math

# Chance, below which a PSI over the threshold is taken for drift rather than sampling noise.
SIGNIFICANCE = 0.01
# Rows a live window must hold before a feature can count as drifted: below it PSI's
# small-sample bias flags clean windows (live_drift/judgement.py has the measurements).
MIN_WINDOW_ROWS = 400


def significant(p_value: float) -> bool:
    """Whether a difference this likely between samples of one distribution is taken for
    drift (a p-value that is no number is not)."""
    return math.isfinite(p_value) and p_value < SIGNIFICANCE


def feature_drifted(psi: float, significant: bool, threshold: float) -> bool:
    """The one rule for a feature, batch and live alike: PSI above the threshold, and the
    difference significant for the check's size."""
    return psi > threshold and significant
