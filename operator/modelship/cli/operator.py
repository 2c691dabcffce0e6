"""`modelship operator`: run the Kopf operator, as the Helm chart's Deployment does."""

from __future__ import annotations

import logging
from typing import Any

import click


@click.command("operator")
@click.option(
    "--namespace",
    "-n",
    "namespaces",
    multiple=True,
    help="Namespace to watch (repeatable, glob patterns allowed). Default: all namespaces.",
)
@click.option(
    "--resync-interval", type=float, help="Seconds between periodic reconciles (default 60)."
)
@click.option("--metrics-port", type=int, help="Port of /metrics, 0 for none (default 9090).")
@click.option("--liveness-port", type=int, help="Port of /healthz, 0 for none (default 8080).")
@click.option(
    "--peering",
    help="Peering object name for leader election between replicas. Default: standalone.",
)
@click.option(
    "--priority",
    type=int,
    help="Peering priority; the highest live replica acts. Default: random with --peering.",
)
@click.option(
    "--log-format", type=click.Choice(["plain", "full", "json"]), help="Log format (default plain)."
)
@click.option(
    "--fetch-image",
    help="Image of the init containers that fetch models with their credentials "
    "(default: each ModelDeployment's serving image).",
)
@click.option("--verbose", "-v", is_flag=True, default=None, help="Log what each reconcile does.")
@click.option("--debug", is_flag=True, default=None, help="Log every API request and event.")
def run_operator(**options: Any) -> None:
    """Run the modelship operator until interrupted.

    Every option can also be set as an environment variable: MODELSHIP_NAMESPACES
    (a JSON list), MODELSHIP_RESYNC_INTERVAL, MODELSHIP_METRICS_PORT,
    MODELSHIP_LIVENESS_PORT, MODELSHIP_PEERING, MODELSHIP_PRIORITY,
    MODELSHIP_LOG_FORMAT, MODELSHIP_FETCH_IMAGE, MODELSHIP_VERBOSE, MODELSHIP_DEBUG. The API
    server is found in-cluster, or through $KUBECONFIG.
    """
    import kopf

    from modelship.handlers import build_registry, kopf_settings
    from modelship.handlers.settings import OperatorSettings

    given = {key: value for key, value in options.items() if value not in (None, ())}
    settings = OperatorSettings(**given)
    kopf.configure(
        verbose=settings.verbose,
        debug=settings.debug,
        log_format=kopf.LogFormat[settings.log_format.name],
    )
    # The HTTP client's per-request lines would drown what the operator says.
    for noisy in ("httpx2", "httpcore2", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if not settings.debug:
        # Nor should a line for every kubelet probe of /healthz.
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    kopf.run(
        registry=build_registry(settings),
        settings=kopf_settings(settings),
        standalone=settings.peering is None,
        peering_name=settings.peering,
        clusterwide=not settings.namespaces,
        namespaces=settings.namespaces,
        liveness_endpoint=settings.liveness_endpoint,
    )
