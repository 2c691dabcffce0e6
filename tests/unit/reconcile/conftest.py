"""Makes the observed-state helpers in states.py importable by this folder's tests."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
