.PHONY: demo test setup crds

setup:
	hack/setup.sh

demo: setup
	.venv/bin/modelship demo

test:
	hack/test.sh

crds: setup
	.venv/bin/python hack/gen_crds.py
