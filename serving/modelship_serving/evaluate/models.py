"""Bringing a packaged model to this machine: fetched as `modelship fetch` fetches it (its
byte and time limits, the repository sha256 when given, each model file's recorded sha256),
then loaded as `modelship score` loads it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from modelship_serving.errors import ModelshipServingError
from modelship_serving.evaluate import EvaluationError
from modelship_serving.fetch.fetch import METADATA_FILENAME, fetch_repository
from modelship_serving.fetch.limits import DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT_SECONDS, FetchBudget
from modelship_serving.fetch.uri import redact_uri
from modelship_serving.metadata import ModelMetadata
from modelship_serving.scoring.checks import load_model


@dataclass(frozen=True)
class FetchLimits:
    """The limits of each model's fetch (as `modelship fetch --max-bytes --timeout-seconds`)."""

    max_bytes: int = DEFAULT_MAX_BYTES
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS


@dataclass(frozen=True)
class PackagedModel:
    """One fetched model: its role (candidate or champion), its uri as shown, its files."""

    role: str
    uri: str  # without user info or query string
    metadata: ModelMetadata
    model_file: Path

    def describe(self) -> str:
        """Its role, name and version, for people."""
        return f"{self.role} {self.metadata.name} v{self.metadata.version}"

    def named(self) -> str:
        """Its role, name, version and uri, for errors."""
        return f"{self.describe()} ({self.uri})"


def as_uri(location: str) -> str:
    """A uri for ``location``: a plain path becomes a file:// uri."""
    return location if "://" in location else Path(location).resolve().as_uri()


def fetch_model(
    role: str, uri: str, scratch: Path, expected_sha256: str | None, limits: FetchLimits
) -> PackagedModel:
    """Fetch the repository at ``uri`` into ``scratch/role`` and load the one model in it;
    EvaluationError, naming the role, when that fails."""
    shown = redact_uri(uri)
    try:
        budget = FetchBudget(max_bytes=limits.max_bytes, timeout_seconds=limits.timeout_seconds)
        repository = fetch_repository(as_uri(uri), scratch / role, expected_sha256, budget)
        names = sorted(
            path.parent.name for path in repository.destination.glob(f"*/{METADATA_FILENAME}")
        )
        if len(names) != 1:
            held = f"models {', '.join(names)}" if names else "no packaged model"
            raise EvaluationError(
                f"holds {held}; give the uri of a repository with one model, as"
                " `modelship package` writes it"
            )
        metadata, model_file = load_model(repository.destination, names[0])
    except ModelshipServingError as error:
        raise EvaluationError(f"{role} {shown}: {error}") from error
    return PackagedModel(role, shown, metadata, model_file)
