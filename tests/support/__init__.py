"""Helpers shared by the tests (and the benchmarks in hack/bench), imported as
`support.<module>`: pytest's `pythonpath` puts tests/ on the path; benchmarks run with
PYTHONPATH=tests."""
