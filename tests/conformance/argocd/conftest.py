"""Makes argocd_sandbox importable by the tests beside it (pytest runs with importlib)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
