"""The repository sha256 is exactly the documented `sha256sum` recipe, independent of where the
files came from or their timestamps; the reference profile's statistics are right."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from modelship_serving.digest import is_sha256_hex, repository_sha256
from modelship_serving.profile import profile_categorical, profile_frame, profile_numeric


def make_repository(root: Path) -> Path:
    (root / "wine" / "1").mkdir(parents=True)
    (root / "wine" / "config.pbtxt").write_text('name: "wine"\n')
    (root / "wine" / "1" / "model.onnx").write_bytes(bytes(range(256)) * 10)
    (root / "wine" / "modelship.json").write_text("{}\n")
    return root


def test_digest_is_sha256_of_sorted_sha256sum_lines(tmp_path: Path) -> None:
    root = make_repository(tmp_path / "repo")
    lines = []
    for relative in sorted(["wine/1/model.onnx", "wine/config.pbtxt", "wine/modelship.json"]):
        digest = hashlib.sha256((root / relative).read_bytes()).hexdigest()
        lines.append(f"{digest}  {relative}\n")
    assert repository_sha256(root) == hashlib.sha256("".join(lines).encode()).hexdigest()


def test_digest_matches_the_shell_recipe_in_the_docstring(tmp_path: Path) -> None:
    root = make_repository(tmp_path / "repo")
    shell = subprocess.run(
        "find . -type f -printf '%P\\0' | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum",
        shell=True,
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    )
    assert shell.stdout.split()[0] == repository_sha256(root)


def test_digest_ignores_timestamps_and_sees_every_byte(tmp_path: Path) -> None:
    root = make_repository(tmp_path / "repo")
    before = repository_sha256(root)
    os.utime(root / "wine" / "config.pbtxt", (0, 0))
    assert repository_sha256(root) == before
    (root / "wine" / "config.pbtxt").write_text('name: "wine" \n')
    assert repository_sha256(root) != before
    assert is_sha256_hex(before)


def test_digest_covers_paths_not_only_contents(tmp_path: Path) -> None:
    root = make_repository(tmp_path / "repo")
    before = repository_sha256(root)
    (root / "wine" / "1").rename(root / "wine" / "2")
    assert repository_sha256(root) != before


def test_numeric_profile_quantiles_histogram_and_missing() -> None:
    values = pd.Series([*range(100), None, None])
    profile = profile_numeric(values)
    assert profile.count == 100
    assert profile.missing_fraction == pytest.approx(2 / 102)
    assert profile.quantiles[0] == 0
    assert profile.quantiles[-1] == 99
    assert profile.quantiles[profile.quantile_levels.index(0.5)] == pytest.approx(49.5)
    assert sum(profile.histogram_counts) == 100
    assert len(profile.histogram_edges) == len(profile.histogram_counts) + 1
    assert profile.mean == pytest.approx(49.5)


def test_constant_and_empty_numeric_columns_still_profile() -> None:
    constant = profile_numeric(pd.Series([3.0] * 10))
    assert constant.histogram_counts == [10]
    empty = profile_numeric(pd.Series([np.nan, np.nan]))
    assert empty.count == 0
    assert empty.mean is None


def test_a_column_of_uint64_ids_beyond_float_precision_still_profiles() -> None:
    # 2**63 + 0..12 are one float64: the constant column's +-0.5 bin would be empty
    ids = pd.Series(np.uint64(2**63) + np.arange(13, dtype=np.uint64))
    profile = profile_numeric(ids)
    assert profile.histogram_counts == [13]
    low, high = profile.histogram_edges
    assert low < 2.0**63 < high


def test_categorical_profile_frequencies() -> None:
    profile = profile_categorical(
        pd.Series(["a"] * 6 + ["b"] * 3 + ["c"] + [None]), max_categories=2
    )
    assert profile.count == 10
    assert profile.distinct == 3
    assert profile.frequencies == {"a": pytest.approx(0.6), "b": pytest.approx(0.3)}
    assert profile.other_fraction == pytest.approx(0.1)
    assert profile.missing_fraction == pytest.approx(1 / 11)


def test_frame_profile_splits_numeric_and_categorical() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0], "c": ["u", "v"]})
    profile = profile_frame(frame, ["x"], ["c"])
    assert profile.row_count == 2
    assert list(profile.numeric) == ["x"]
    assert list(profile.categorical) == ["c"]
