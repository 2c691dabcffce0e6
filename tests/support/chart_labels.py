"""The labels the chart, installed as release `modelship`, puts on every object it owns."""

from __future__ import annotations

LABELS = {
    "app.kubernetes.io/name": "modelship",
    "app.kubernetes.io/instance": "modelship",
    "app.kubernetes.io/component": "operator",
    "helm.sh/chart": "modelship-0.1.0",
    "app.kubernetes.io/version": "0.1.0",
    "app.kubernetes.io/managed-by": "Helm",
    "app.kubernetes.io/part-of": "modelship",
}
