"""Makes the operator's emulator, harness and scenarios, and this folder's harness, importable."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "operator"))
sys.path.insert(0, str(HERE))
