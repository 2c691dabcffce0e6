"""`modelship score` runs as the batch CronJob's pod runs it: the container's own command
line and environment, rendered by the builder, as an unprivileged user who can write only
its /tmp and the output volume (the pod has a read-only root filesystem and HOME=/tmp).

Proves that nothing score, pandas, pyarrow or onnxruntime writes (work directory,
temporary files, caches) lands outside those two places, and that the pod's output is
complete: predictions equal the model's, drift and manifest beside them, no partial
results left, under the day the Job's name (from the downward API) says it was
scheduled. Needs root to drop to uid 65534 (skipped otherwise)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from modelship.api import ModelDeployment
from modelship.builders import build_model_deployment_children, resolve_model, steady_plan
from support.custom_resources import model_deployment_body

NOBODY = 65534
SETPRIV = shutil.which("setpriv")
RUN = "churn-nightly-29013120"  # the Job the CronJob scheduled for 2025-03-01 00:00 UTC


def score_container(input_uri: str, output_uri: str) -> dict[str, Any]:
    batch = {
        "name": "nightly",
        "schedule": "@daily",
        "input": {"uri": input_uri},
        "output": {"uri": output_uri},
        "batchSize": 100,
    }
    md = ModelDeployment.model_validate(model_deployment_body("churn", uid="u-1", batch=[batch]))
    children = build_model_deployment_children(md, steady_plan(md, resolve_model(md)))
    [cron_job] = [child for child in children if child["kind"] == "CronJob"]
    pod = cron_job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True
    container: dict[str, Any] = pod["containers"][0]
    return container


@pytest.mark.skipif(
    os.geteuid() != 0 or SETPRIV is None, reason="needs root and setpriv to run as uid 65534"
)
def test_score_writes_only_to_tmp_and_the_output_volume(packaged: Any) -> None:
    repository, served = packaged
    frame = pd.concat([served["churn"].held_out] * 5, ignore_index=True)
    container = score_container("pvc://exports/day/in.csv", "pvc://scores/{date}/out.parquet")
    # The pod's mounts, as directories that uid 65534 can read but, except two, not write.
    pod_root = Path(tempfile.mkdtemp(prefix="modelship-pod-"))
    try:
        pod_root.chmod(0o755)
        mounts = {
            "/models": pod_root / "models",
            "/mnt/batch-input": pod_root / "batch-input",
            "/mnt/batch-output": pod_root / "batch-output",
            "/tmp": pod_root / "tmp",
            # The kubelet's file behind terminationMessagePath, writable by the container.
            "/dev/termination-log": pod_root / "termination-log",
        }
        shutil.copytree(repository, mounts["/models"])
        (mounts["/mnt/batch-input"] / "day").mkdir(parents=True)
        frame.to_csv(mounts["/mnt/batch-input"] / "day" / "in.csv", index=False)
        for writable in (mounts["/mnt/batch-output"], mounts["/tmp"]):
            writable.mkdir()
            os.chown(writable, NOBODY, NOBODY)
        mounts["/dev/termination-log"].touch()
        os.chown(mounts["/dev/termination-log"], NOBODY, NOBODY)

        def on_this_machine(value: str) -> str:
            for mount, directory in mounts.items():
                if value == mount or value.startswith(mount + "/"):
                    return str(directory) + value[len(mount) :]
            return value

        # The kubelet fills MODELSHIP_BATCH_RUN from the pod's job-name label.
        environment = {
            e["name"]: on_this_machine(e["value"]) if "value" in e else RUN
            for e in container["env"]
        }
        assert environment == {"HOME": str(mounts["/tmp"]), "MODELSHIP_BATCH_RUN": RUN}
        # In the pod TMPDIR is unset and Python's default, /tmp, is the emptyDir.
        environment |= {"TMPDIR": str(mounts["/tmp"]), "PATH": os.environ["PATH"]}
        # The tree under test, where PYTHONPATH names it (the venv's install may be another).
        if "PYTHONPATH" in os.environ:
            environment["PYTHONPATH"] = os.environ["PYTHONPATH"]
        command = [str(Path(sys.executable).parent / container["command"][0])]
        command += [on_this_machine(argument) for argument in container["args"]]
        assert SETPRIV is not None
        done = subprocess.run(
            [SETPRIV, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *command],
            env=environment,
            cwd=mounts["/models"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        day = mounts["/mnt/batch-output"] / "2025-03-01"  # {date} of RUN
        assert sorted(path.name for path in day.iterdir()) == [
            "out.parquet",
            "out.parquet.drift.json",
            "out.parquet.manifest.json",
        ]
        summary = json.loads(mounts["/dev/termination-log"].read_text())
        assert summary["rows"] == len(frame)
        assert summary["output"] == f"{mounts['/mnt/batch-output']}/2025-03-01/out.parquet"
        scored = pd.read_parquet(day / "out.parquet")
        assert scored["row"].tolist() == list(range(len(frame)))
        assert scored["label"].tolist() == served["churn"].original.predict(frame).tolist()
    finally:
        shutil.rmtree(pod_root)
