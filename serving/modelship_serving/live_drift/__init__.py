"""Drift of the inputs a model actually serves, counted into the reference profile's bins.

Two sources feed the same counting (`counting`), rolling window (`window`), judgement
(`judgement`: the PSI and significance gate of `modelship_serving.drift`, as `score`
reports it) and Prometheus metrics (`exposition`):

- the mechanism: a gateway's `RequestMirror` copies a share of a deployment's requests to
  `modelship drift-watch` in mirror mode (`mirror_endpoints` answers at once, `mirror`
  counts on a worker, `v2_requests` reads KServe v2 HTTP and gRPC bodies);
- experimental: Triton traces one request in N to files in a memory-backed volume that
  the `drift-watch` sidecar reads and deletes (`watch`, `traces`).

Only bin counts leave the pod.
"""
