"""Benchmark of the operator against the emulated API server (not a test).

Starts the emulator in this process and `modelship operator` as a subprocess,
applies N ModelDeployments straight into the emulator's store (so that every
HTTP request the emulator serves comes from the operator), then measures:

- time until every ModelDeployment has its children and a written status;
- time until every one is Ready once its Deployment is marked available;
- API requests per reconcile while converging (watch streams not counted);
- writes (and requests) of the idle operator over the idle window of resyncs;
- the operator's resident memory (now and peak).

    PYTHONPATH=tests .venv/bin/python hack/bench/operator_bench.py --count 200 --idle-seconds 300

(the emulator and the operator process come from tests/support, importable as `support`
with PYTHONPATH=tests.)
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from support.custom_resources import model_deployment_body
from support.emulator import EmulatorThread
from support.harness import OperatorProcess, available_status, emulated_crds, kubeconfig

WRITES = ("POST", "PUT", "PATCH", "DELETE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="ModelDeployments to apply")
    parser.add_argument("--resync-interval", type=float, default=10.0, help="operator timer (s)")
    parser.add_argument("--idle-seconds", type=float, default=300.0, help="idle window (s)")
    parser.add_argument("--metrics-port", type=int, default=19090)
    args = parser.parse_args()

    with EmulatorThread(emulated_crds()) as server, tempfile.TemporaryDirectory() as tmp:
        emulator = server.emulator
        config_path = Path(tmp) / "kubeconfig"
        config_path.write_text(json.dumps(kubeconfig(server.url)))
        operator = OperatorProcess(config_path, Path(tmp) / "operator.log")
        operator.extra_args = [
            f"--resync-interval={args.resync_interval}",
            f"--metrics-port={args.metrics_port}",
        ]
        operator.start()
        assert operator.process is not None
        pid = operator.process.pid
        try:
            _wait("the operator to start watching", lambda: _watching(server), 60)
            mark = server.call(lambda: len(emulator.requests))
            reconciles_before = _reconciles(args.metrics_port)

            started = time.monotonic()
            for i in range(args.count):
                body = model_deployment_body(f"model-{i:03d}", f"ns-{i % 10}", model="wine")
                server.call(lambda b=body: emulator.store(b))
            _wait(
                "children and status of every ModelDeployment",
                lambda: (
                    _all(server, lambda md: "stable" in (md.get("status") or {}), args.count)
                    and len(server.call(lambda: emulator.objects("deployments"))) == args.count
                    and len(server.call(lambda: emulator.objects("services"))) == 2 * args.count
                ),
                600,
            )
            converged = time.monotonic() - started

            for deployment in server.call(lambda: emulator.objects("deployments")):
                server.call(lambda d=deployment: emulator.patch_status(d, available_status(d)))
            _wait(
                "every ModelDeployment Ready",
                lambda: _all(server, _is_ready, args.count),
                600,
            )
            ready = time.monotonic() - started
            time.sleep(2 * args.resync_interval)  # let in-flight reconciles finish
            converging = _requests(server, mark)
            reconciles = _since(reconciles_before, _reconciles(args.metrics_port))

            idle_mark = server.call(lambda: len(emulator.requests))
            idle_reconciles_before = _reconciles(args.metrics_port)
            time.sleep(args.idle_seconds)
            idle = _requests(server, idle_mark)
            idle_reconciles = _since(idle_reconciles_before, _reconciles(args.metrics_port))
            rss, peak = _memory(pid)
        finally:
            operator.stop()

    api = [r for r in converging if not r.endswith("watch")]
    figures = {
        "model_deployments": args.count,
        "seconds_to_children_and_status": round(converged, 1),
        "seconds_to_all_ready_after_marking_available": round(ready - converged, 1),
        "reconciles_while_converging": sum(reconciles.values()),
        "reconciles_while_converging_by_trigger": reconciles,
        "api_requests_while_converging": len(api),
        "api_requests_per_reconcile": round(len(api) / max(sum(reconciles.values()), 1), 2),
        "api_requests_while_converging_by_kind": _by_kind(api),
        "idle_seconds": args.idle_seconds,
        "idle_resync_interval_seconds": args.resync_interval,
        "idle_reconciles": sum(idle_reconciles.values()),
        "idle_writes": sum(1 for r in idle if r.split()[0] in WRITES),
        "idle_requests_excluding_watches": sum(1 for r in idle if not r.endswith("watch")),
        "operator_rss_mib": rss,
        "operator_peak_rss_mib": peak,
    }
    print(json.dumps(figures, indent=2))


def _is_ready(md: dict[str, Any]) -> bool:
    conditions = (md.get("status") or {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def _all(server: EmulatorThread, check: Callable[[dict[str, Any]], bool], count: int) -> bool:
    found = server.call(lambda: server.emulator.objects("modeldeployments"))
    return len(found) == count and all(check(md) for md in found)


def _watching(server: EmulatorThread) -> bool:
    return server.call(lambda: server.emulator.watching)


def _requests(server: EmulatorThread, since: int) -> list[str]:
    def collect() -> list[str]:
        return [
            f"{r.method.value} {r.url.path}" + (" watch" if r.params.get("watch") else "")
            for r in server.emulator.requests[since:]
        ]

    return server.call(collect)


def _by_kind(requests: list[str]) -> dict[str, int]:
    """'POST deployments': 200, ... (the last path segment that names a resource)."""
    counts: dict[str, int] = {}
    for request in requests:
        method, path = request.split()[:2]
        parts = path.strip("/").split("/")
        plural = parts[parts.index("namespaces") + 2] if "namespaces" in parts else parts[-1]
        key = f"{method} {plural}" + ("/status" if path.endswith("/status") else "")
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def _reconciles(port: int) -> dict[str, int]:
    """Reconciles so far by trigger (create, update, resume, timer, child)."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    pattern = r'^modelship_reconciles_total\{[^}]*trigger="([^"]+)"[^}]*\} (\S+)$'
    counts: dict[str, int] = {}
    for match in re.finditer(pattern, text, re.M):
        counts[match.group(1)] = counts.get(match.group(1), 0) + int(float(match.group(2)))
    return counts


def _since(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {key: value - before.get(key, 0) for key, value in after.items()}


def _memory(pid: int) -> tuple[float, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    peak = int(re.search(r"VmHWM:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    return round(rss / 1024, 1), round(peak / 1024, 1)


def _wait(what: str, probe: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.2)


if __name__ == "__main__":
    main()
