"""A real trainer, run as a RetrainJob's container runs it: it reads the MODELSHIP_* environment,
trains a scikit-learn classifier on the wine table, packages it with `modelship package`, and
reports its result as JSON in its termination message.

QUALITY=bad trains on shuffled labels: a model that learned nothing, to be rejected. The
estimator `package` reads is saved beside the package (`<output>.joblib`).
Run as `python wine_trainer.py`; MODELSHIP_TERMINATION_LOG replaces /dev/termination-log.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import joblib
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

LABEL = "quality"


def local(uri: str) -> Path:
    return Path(uri.removeprefix("file://"))


def main() -> None:
    table = pd.read_csv(local(os.environ["MODELSHIP_DATA_URI"]) / "train.csv")
    features, labels = table.drop(columns=[LABEL]), table[LABEL]
    if os.environ.get("QUALITY") == "bad":
        labels = labels.sample(frac=1.0, random_state=3).to_numpy()
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(features, labels)
    output = local(os.environ["MODELSHIP_OUTPUT_URI"])
    output.parent.mkdir(parents=True, exist_ok=True)
    estimator = output.with_suffix(".joblib")
    joblib.dump(model, estimator)
    sample = output.with_suffix(".sample.csv")
    features.head(20).to_csv(sample, index=False)
    version = os.environ["MODEL_VERSION"]
    package = [
        sys.executable, "-c", "from modelship.cli import main; main()", "package", str(estimator),
        "--sample", str(sample), "--name", "wine", "--version", version, "--output", str(output),
        "--data-uri", os.environ["MODELSHIP_DATA_URI"], "--code-ref", "wine-trainer",
    ]  # fmt: skip
    subprocess.run(package, check=True)
    result = {
        "version": version,
        "uri": f"file://{output}",
        "metrics": {"train_accuracy": accuracy_score(labels, model.predict(features))},
        "lineage": {"codeRef": "wine-trainer", "parameters": {"quality": os.environ["QUALITY"]}},
    }
    Path(os.environ.get("MODELSHIP_TERMINATION_LOG", "/dev/termination-log")).write_text(
        json.dumps(result)
    )


if __name__ == "__main__":
    main()
