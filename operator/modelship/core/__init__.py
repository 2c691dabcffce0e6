"""The floor: Kubernetes vocabulary every other package shares, and nothing else.

Object references, manifests, the actions a decision returns, Events, ownership,
merge patches, and the label, annotation and container names the operator writes.
It imports no other modelship package, so that builders, reconcile, kube and
handlers can all stand on it without standing on each other.
"""
