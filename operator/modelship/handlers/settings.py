"""The operator's settings: command-line options, or MODELSHIP_* environment variables."""

from __future__ import annotations

import secrets
from enum import StrEnum

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class LogFormat(StrEnum):
    PLAIN = "plain"
    FULL = "full"
    JSON = "json"


class OperatorSettings(BaseSettings):
    """How `modelship operator` runs."""

    model_config = SettingsConfigDict(env_prefix="MODELSHIP_", frozen=True)

    namespaces: list[str] = Field(
        default_factory=list,
        description="Namespaces to watch (glob patterns allowed); empty watches all namespaces.",
    )
    resync_interval: float = Field(
        default=60.0,
        gt=0,
        description=(
            "Seconds between periodic reconciles of every object; they repair drift that "
            "no watched event announces and write nothing when nothing changed."
        ),
    )
    metrics_address: str = Field(
        default="0.0.0.0", description="Address the Prometheus metrics endpoint listens on."
    )
    metrics_port: int = Field(
        default=9090, ge=0, le=65535, description="Port of /metrics; 0 turns it off."
    )
    liveness_address: str = Field(
        default="0.0.0.0", description="Address the liveness endpoint listens on."
    )
    liveness_port: int = Field(
        default=8080, ge=0, le=65535, description="Port of /healthz; 0 turns it off."
    )
    peering: str | None = Field(
        default=None,
        description=(
            "Name of the Kopf peering object for leader election between replicas "
            "(needs the ClusterKopfPeering/KopfPeering CRDs); unset runs standalone."
        ),
    )
    priority: int | None = Field(
        default=None,
        description=(
            "Peering priority: the live replica with the highest one acts, the others wait. "
            "Unset with peering: a random one, so that replicas never tie (a tie pauses all)."
        ),
    )
    fetch_image: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "Image of the init container that fetches a model with its credentials Secret "
            "(the operator's own, pinned by the chart), so that the Secret never reaches a "
            "user's serving image; unset: the serving image fetches."
        ),
    )
    log_format: LogFormat = Field(default=LogFormat.PLAIN, description="plain, full or json.")
    verbose: bool = Field(default=False, description="Log what each reconcile does.")
    debug: bool = Field(default=False, description="Log every API request and event.")

    @property
    def peering_priority(self) -> int:
        if self.priority is not None:
            return self.priority
        return secrets.randbelow(1_000_000) + 1 if self.peering else 0

    @property
    def liveness_endpoint(self) -> str | None:
        if self.liveness_port == 0:
            return None
        return f"http://{self.liveness_address}:{self.liveness_port}/healthz"
