.PHONY: demo test setup crds chart-docs lock

setup:
	hack/setup.sh

demo: setup
	.venv/bin/modelship demo

test:
	hack/test.sh

crds: setup
	.venv/bin/python hack/gen_crds.py

# The values table of charts/modelship/README.md, from values.schema.json and values.yaml.
chart-docs: setup
	.venv/bin/python hack/gen_chart_readme.py

# Re-resolve uv.lock after a change to pyproject.toml's dependencies (hack/setup.sh and
# the images install exactly what it lists).
lock:
	hack/install-uv.sh
	.tools/uv/bin/uv lock
