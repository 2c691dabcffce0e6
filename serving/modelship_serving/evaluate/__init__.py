"""`modelship evaluate`: score a candidate model, and optionally the champion it would replace,
on the same holdout table and report scikit-learn's metrics for both.

- models.py fetches a packaged model repository (as `modelship fetch` does: its limits and its
  sha256 checks) and loads the one model in it;
- holdout.py reads the table (as `modelship score` reads its input), checks the label column
  against each model's classes, and scores every model in-process with onnxruntime;
- metrics.py computes the metrics with scikit-learn's own functions;
- report.py builds the compact JSON document the validation Job leaves as its termination
  message (under the kubelet's 4096-byte limit);
- run.py ties them together.

The verdict (does the candidate beat the champion?) is not made here: it is the operator's.
"""

from __future__ import annotations

from modelship_serving.errors import ModelshipServingError


class EvaluationError(ModelshipServingError):
    """An evaluation cannot run: a bad metric, label, table or model."""
