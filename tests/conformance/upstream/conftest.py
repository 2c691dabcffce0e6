"""Conformance with the components users run beside modelship, replayed offline.

The helpers of this folder are plain modules (`upstream_crd`, `keda_webhook`,
`edge_specs`); pytest's importlib mode needs their folder on the path.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
