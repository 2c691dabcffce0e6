"""Drift of the inputs a model actually serves, read from Triton's own request traces.

Triton samples one request in N (its trace rate) and writes the sampled requests' input
tensors to trace files in a memory-backed volume; `modelship drift-watch`, a sidecar in
the same pod, reads each file, deletes it, counts the values into the reference profile's
bins, keeps those counts over a rolling window and exposes per-feature drift (the PSI and
significance gate of `modelship_serving.drift`, as `score` reports it) as Prometheus
metrics. Only bin counts leave the pod.
"""
