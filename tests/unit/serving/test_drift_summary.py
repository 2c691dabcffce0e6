"""`modelship score --drift-summary` writes a small drift summary (what a batch pod's
termination message carries): the report's per-feature PSI and verdicts, no data, under the
kubelet's 4096 bytes however many features there are, the highest PSI kept first."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelship_serving.drift_summary import MAX_SUMMARY_BYTES, drift_summary
from modelship_serving.scoring.job import run_scoring
from support.churn_scoring import score_settings
from support.sklearn_models import customer_rows as rows


def test_score_writes_the_summary_of_its_drift_report(churn_repo: Path, tmp_path: Path) -> None:
    frame = rows(800)
    frame["age"] = frame["age"] + 40
    source = tmp_path / "in.csv"
    frame.to_csv(source, index=False)
    summary_file = tmp_path / "termination-log"
    output = tmp_path / "out.csv"
    run_scoring(
        score_settings(churn_repo, source, output, psi_threshold=0.2, drift_summary=summary_file)
    )
    summary = json.loads(summary_file.read_text())
    report = json.loads((tmp_path / "out.csv.drift.json").read_text())
    assert summary["rows"] == 800
    assert summary["threshold"] == 0.2
    assert summary["output"] == str(tmp_path / "out.csv")
    assert summary["featureCount"] == len(report["features"])
    assert summary["features"][0]["name"] == "age"  # the highest PSI first
    by_name = {feature["name"]: feature for feature in summary["features"]}
    assert by_name["age"] == {
        "name": "age",
        "psi": round(report["features"]["age"]["psi"], 4),
        "significant": True,
        "drifted": True,
    }
    assert not by_name["plan"]["drifted"]
    assert "customer" not in summary_file.read_text()  # no values, only names and figures


def _report(features: int) -> dict[str, Any]:
    return {
        "rows": 10_000,
        "reference_rows": 500,
        "psi_threshold": 0.25,
        "features": {
            f"a_rather_long_feature_name_number_{index:04d}": {
                "psi": index / 100,
                "p_value": 0.0,
                "drifted": index > 25,
            }
            for index in range(features)
        },
    }


def test_many_features_fit_with_the_highest_psi_kept() -> None:
    text = drift_summary(_report(2000), datetime(2026, 11, 30, tzinfo=UTC), "s3://b/out.csv")
    summary = json.loads(text)
    assert len(text.encode()) <= MAX_SUMMARY_BYTES < 4096
    assert summary["featureCount"] == 2000
    kept = summary["features"]
    assert 10 < len(kept) < 2000
    assert [feature["psi"] for feature in kept] == sorted(
        (feature["psi"] for feature in kept), reverse=True
    )
    assert kept[0]["name"] == "a_rather_long_feature_name_number_1999"


def test_the_limit_is_filled_not_overshot() -> None:
    for limit in (600, 1000, 2500):
        text = drift_summary(_report(300), datetime(2026, 11, 30, tzinfo=UTC), "x", limit)
        assert limit - 100 < len(text.encode()) <= limit  # one more feature is ~95 bytes
