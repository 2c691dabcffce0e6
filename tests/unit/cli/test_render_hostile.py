"""`modelship render` against hostile manifests: YAML nested deeper than any spec needs
(10,000 lists, mappings, or a mix, in a manifest or a --retrain-result) is refused with one
line naming the file and the line, exit code 2 and nothing on stdout, instead of a
RecursionError; and a YAML alias bomb renders nothing exponential."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from modelship.cli.render import EXIT_INVALID, MAX_YAML_DEPTH, render
from support.custom_resources import MINIMAL_MODEL_DEPLOYMENT_YAML as MANIFEST

DEPTH = 10_000
NESTINGS = {
    "lists": "[" * DEPTH + "]" * DEPTH,
    "flow mappings": "{a: " * DEPTH + "1" + "}" * DEPTH,
    # 2,000 block levels already take 2 million spaces of indentation.
    "block mappings": "\n"
    + "".join(f"{' ' * (4 + level)}a:\n" for level in range(2000))
    + " " * 2004
    + "1",
    "a mix": "[{a: " * (DEPTH // 2) + "1" + "}]" * (DEPTH // 2),
}


def render_files(*arguments: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(render, list(arguments))
    assert not isinstance(result.exception, RecursionError), "RecursionError"
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("nesting", list(NESTINGS))
def test_deep_nesting_in_a_manifest_is_one_line(nesting: str, tmp_path: Path) -> None:
    manifest = tmp_path / "deep.yaml"
    manifest.write_text(MANIFEST + "  extra: " + NESTINGS[nesting] + "\n")
    code, stdout, stderr = render_files("-f", str(manifest))
    assert code == EXIT_INVALID
    assert stdout == ""
    assert stderr.count("\n") == 1, stderr
    assert stderr.startswith(f"error: {manifest}: not valid YAML: nested deeper than"), stderr
    assert "(line 6)" in stderr or "(line " in stderr


def test_deep_nesting_in_a_retrain_result_is_one_line(tmp_path: Path) -> None:
    manifest = tmp_path / "md.yaml"
    manifest.write_text(MANIFEST)
    result = tmp_path / "result.json"
    result.write_text(NESTINGS["lists"])
    code, stdout, stderr = render_files("-f", str(manifest), "--retrain-result", f"t={result}")
    assert code == EXIT_INVALID
    assert stdout == ""
    assert stderr.count("\n") == 1, stderr
    assert "nested deeper than" in stderr


def test_a_manifest_as_deep_as_the_limit_still_renders_its_errors(tmp_path: Path) -> None:
    manifest = tmp_path / "ok.yaml"
    depth = MAX_YAML_DEPTH - 3  # the document, spec and extra take three levels
    manifest.write_text(MANIFEST + "  extra: " + "[" * depth + "]" * depth + "\n")
    code, _, stderr = render_files("-f", str(manifest))
    assert code == EXIT_INVALID
    assert "spec.extra: unknown field" in stderr, stderr


def test_an_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 10) + "]" for n in range(1, 10)]
    manifest = tmp_path / "bomb.yaml"
    manifest.write_text(MANIFEST + "  extra:\n" + "".join(f"    {line}\n" for line in lines))
    code, stdout, _ = render_files("-f", str(manifest))
    assert code == EXIT_INVALID
    assert stdout == ""


def test_an_alias_bomb_in_a_free_form_field_is_refused_quickly(tmp_path: Path) -> None:
    """serving.affinity takes any object, so the bomb passes the types: it must be measured
    before anything writes it out (10^9 values here)."""
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 10) + "]" for n in range(1, 9)]
    manifest = tmp_path / "bomb.yaml"
    manifest.write_text(
        MANIFEST + "  serving:\n    affinity:\n" + "".join(f"      {line}\n" for line in lines)
    )
    code, stdout, stderr = render_files("-f", str(manifest))
    assert code == EXIT_INVALID
    assert stdout == ""
    assert "through YAML aliases, more than 1,000,000: write it without the aliases" in stderr
