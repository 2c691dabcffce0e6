"""Write the CRDs generated from the API types into crds/ and the Helm chart."""

from __future__ import annotations

from pathlib import Path

from modelship.api.crd import KINDS, crd_file_name, crd_yaml

ROOT = Path(__file__).resolve().parent.parent
# The chart carries identical copies: Helm installs CRDs only from its own crds/ folder.
TARGETS = (ROOT / "crds", ROOT / "charts" / "modelship" / "crds")


def main() -> None:
    for target in TARGETS:
        target.mkdir(parents=True, exist_ok=True)
        for kind in KINDS:
            path = target / crd_file_name(kind)
            path.write_text(crd_yaml(kind))
            print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
