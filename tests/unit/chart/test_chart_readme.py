"""The values table in charts/modelship/README.md is what hack/gen_chart_readme.py makes of
the chart's current values.schema.json and values.yaml (`make chart-docs` rewrites it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]
CHART = REPO / "charts" / "modelship"


def test_readme_values_table_is_current() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "hack" / "gen_chart_readme.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_every_default_value_has_a_row() -> None:
    # A key is documented by its own row, or (a section) by rows for all its keys.
    readme = (CHART / "README.md").read_text()

    def undocumented(values: dict[str, Any], prefix: str = "") -> list[str]:
        missing = []
        for key, value in values.items():
            if f"| `{prefix}{key}` |" in readme:
                continue
            if isinstance(value, dict) and value:
                missing += undocumented(value, f"{prefix}{key}.")
            else:
                missing.append(prefix + key)
        return missing

    assert undocumented(yaml.safe_load((CHART / "values.yaml").read_text())) == []
