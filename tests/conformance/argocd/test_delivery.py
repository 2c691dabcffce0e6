"""Every way the README gives to put the health checks into argocd-cm carries exactly the
shipped Lua files, and leaves argocd-cm's other keys alone.

The commands run offline: `kubectl patch --local` applies a merge patch the way the API
server does for `kubectl patch`, and `helm template` renders charts.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.argocd_sandbox import KINDS, REPO, config_map_key, health_check

README = REPO / "README.md"
CHART = REPO / "charts" / "modelship"
# An argocd-cm as Argo CD's install leaves it, with keys of its own.
ARGOCD_CM: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "argocd-cm", "namespace": "argocd"},
    "data": {
        "url": "https://argocd.example.com",
        "resource.customizations.health.argoproj.io_Application": "hs = {}\nreturn hs\n",
    },
}
OWN_KEYS: dict[str, str] = dict(ARGOCD_CM["data"])


def shipped() -> dict[str, str]:
    return {config_map_key(kind): health_check(kind) for kind in KINDS}


def tool(name: str) -> str:
    found = REPO / ".tools" / "bin" / name
    if found.is_file():
        return str(found)
    binary = shutil.which(name)
    if binary is None:
        pytest.skip(f"{name} is not installed: hack/setup.sh puts it in .tools/bin")
    return binary


def run(*args: str, cwd: Path = REPO) -> str:
    result = subprocess.run(
        args, capture_output=True, text=True, check=False, timeout=60, cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "KUBECONFIG": "/dev/null", "HOME": str(cwd)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def readme_section() -> str:
    text = README.read_text()
    start = text.index("\n### Argo CD\n")
    return text[start : text.index("\n### ", start + 1)]


def readme_patch() -> str:
    """The argocd-cm-modelship.yaml the README shows, as a user would save it."""
    found = re.search(
        r"<summary>argocd-cm-modelship\.yaml</summary>\n\n  ```yaml\n(.*?)\n  ```\n",
        readme_section(),
        re.DOTALL,
    )
    assert found, "README: the argocd-cm-modelship.yaml block is missing"
    return "\n".join(line.removeprefix("  ") for line in found[1].split("\n")) + "\n"


def patched_argocd_cm(tmp_path: Path, *patch: str) -> dict[str, str]:
    """argocd-cm's data after `kubectl patch --type merge` with ``patch``."""
    target = tmp_path / "argocd-cm.yaml"
    target.write_text(yaml.safe_dump(ARGOCD_CM))
    kubectl = tool("kubectl")
    out = run(
        kubectl, "patch", "-f", str(target), "--local", "--type", "merge", *patch, "-o", "yaml"
    )
    data: dict[str, str] = yaml.safe_load(out)["data"]
    return data


def test_the_readme_patch_is_the_shipped_lua() -> None:
    assert yaml.safe_load(readme_patch()) == {"data": shipped()}


def test_the_readme_patch_merges_into_argocd_cm_and_keeps_its_keys(tmp_path: Path) -> None:
    patch_file = tmp_path / "argocd-cm-modelship.yaml"
    patch_file.write_text(readme_patch())
    assert "--patch-file argocd-cm-modelship.yaml" in readme_section()
    data = patched_argocd_cm(tmp_path, "--patch-file", str(patch_file))
    assert data == OWN_KEYS | shipped()


def render_chart(tmp_path: Path, *values: str) -> list[dict[str, Any]]:
    helm = tool("helm")
    out = run(helm, "template", "modelship", str(CHART), "-n", "modelship-system", *values)
    return [doc for doc in yaml.safe_load_all(out) if doc]


def test_the_chart_renders_the_shipped_lua_under_the_argocd_cm_keys(tmp_path: Path) -> None:
    objects = render_chart(tmp_path, "--set", "argocd.healthChecks.enabled=true")
    (config_map,) = [
        obj
        for obj in objects
        if obj["kind"] == "ConfigMap"
        and obj["metadata"]["name"] == "modelship-argocd-health-checks"
    ]
    assert config_map["metadata"]["namespace"] == "modelship-system"
    assert config_map["data"] == shipped()
    assert not [o for o in objects if o["metadata"]["name"] == "argocd-cm"]


def test_the_chart_renders_no_health_checks_unless_asked(tmp_path: Path) -> None:
    names = [obj["metadata"]["name"] for obj in render_chart(tmp_path)]
    assert "modelship-argocd-health-checks" not in names


def test_a_misspelt_value_is_refused_naming_it(tmp_path: Path) -> None:
    helm = tool("helm")
    result = subprocess.run(
        [helm, "template", "modelship", str(CHART), "--set", "argocd.healthChecks.enable=true"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert "/argocd/healthChecks" in result.stderr
    assert "'enable' not allowed" in result.stderr


def test_the_readme_jsonpath_merges_the_chart_config_map_into_argocd_cm(tmp_path: Path) -> None:
    rendered = tmp_path / "health-checks.yaml"
    rendered.write_text(
        run(
            tool("helm"), "template", "modelship", str(CHART),
            "--set", "argocd.healthChecks.enabled=true",
            "--show-only", "templates/argocd-health-checks.yaml",
        )
    )  # fmt: skip
    (template,) = re.findall(r"-o jsonpath='([^']+)'", readme_section())
    # The README reads the installed ConfigMap with `kubectl get`; `patch --local` with an empty
    # patch prints the same object through the same jsonpath, with no API server.
    merge = run(
        tool("kubectl"), "patch", "-f", str(rendered), "--local", "--type", "merge",
        "-p", "{}", "-o", f"jsonpath={template}",
    )  # fmt: skip
    assert patched_argocd_cm(tmp_path, "-p", merge) == OWN_KEYS | shipped()


def test_the_readme_set_file_flags_set_the_argo_cd_chart_keys(tmp_path: Path) -> None:
    """The argo-cd chart renders configs.cm as argocd-cm's data; a chart doing just that
    shows what Helm makes of the README's --set-file flags (escaped dots and all)."""
    flags = re.findall(r"--set-file '([^']+)'", readme_section())
    assert len(flags) == len(KINDS)
    chart = tmp_path / "argo-cd"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: argo-cd\nversion: 0.0.1\n")
    (chart / "templates" / "argocd-cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argocd-cm\n"
        "data:\n  {{- toYaml .Values.configs.cm | nindent 2 }}\n"
    )
    args = [arg for flag in flags for arg in ("--set-file", flag)]
    out = run(tool("helm"), "template", "argocd", str(chart), *args)  # paths from the repo root
    assert yaml.safe_load(out)["data"] == shipped()
