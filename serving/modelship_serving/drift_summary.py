"""A batch run's drift, small enough for a container's termination message.

The operator reads a finished batch Job's drift from its pod's status, without the
storage credentials the full report (``OUT.drift.json``) would need. The kubelet keeps
at most 4096 bytes of a termination message, so the summary carries no data: per
feature only its PSI, whether the difference is significant for the batch's size, and
whether the run judged it drifted; the features with the highest PSI first, as many as
fit, and how many were left out.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from modelship_serving.drift_rules import significant

# The kubelet's limit on a termination message (bytes); kept well under, as it may count
# differently from us.
MAX_SUMMARY_BYTES = 4000
# Long enough for any column name a person reads; a label value stays readable.
MAX_NAME_LENGTH = 128
MAX_OUTPUT_LENGTH = 512
SUMMARY_VERSION = 1
_COMPACT = (",", ":")


def drift_summary(
    report: dict[str, Any], finished_at: datetime, output: str, limit: int = MAX_SUMMARY_BYTES
) -> str:
    """The summary of a drift report (its JSON form), as JSON of at most ``limit`` bytes.

    ``output`` is the run's output as it may be shown (no query string); it names the run.
    """
    ranked = sorted(report["features"].items(), key=lambda item: (-float(item[1]["psi"]), item[0]))
    features = [
        {
            "name": name[:MAX_NAME_LENGTH],
            "psi": round(float(feature["psi"]), 4),
            "significant": significant(float(feature["p_value"])),
            "drifted": bool(feature["drifted"]),
        }
        for name, feature in ranked
    ]
    summary: dict[str, Any] = {
        "version": SUMMARY_VERSION,
        "rows": report["rows"],
        "referenceRows": report["reference_rows"],
        "threshold": report["psi_threshold"],
        "finishedAt": finished_at.isoformat(),
        "output": output[:MAX_OUTPUT_LENGTH],
        "featureCount": len(features),
        "features": [],
    }
    # The features with the highest PSI, as many as fit: compact JSON is the empty list's
    # text plus each feature's and a comma between.
    size = len(json.dumps(summary, separators=_COMPACT).encode())
    for index, feature in enumerate(features):
        size += len(json.dumps(feature, separators=_COMPACT).encode()) + (1 if index else 0)
        if size > limit:
            break
        summary["features"].append(feature)
    return json.dumps(summary, separators=_COMPACT)


def write_drift_summary(
    path: Path, report: dict[str, Any], finished_at: datetime, output: str
) -> None:
    """Write the summary where the container's terminationMessagePath points."""
    path.write_text(drift_summary(report, finished_at, output))
