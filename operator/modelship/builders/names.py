"""Names of child objects: DNS-1035 labels that never exceed Kubernetes' limits."""

from __future__ import annotations

import hashlib

# Service names (DNS-1035) and label values are limited to 63 characters.
MAX_NAME_LENGTH = 63
# A CronJob's Jobs get an 11-character suffix, so CronJob names stop at 52.
MAX_CRONJOB_NAME_LENGTH = 52
_SHORT_HASH_LENGTH = 5


def child_name(*parts: str, max_length: int = MAX_NAME_LENGTH) -> str:
    """Join parts with '-'; too long a result is cut and made unique with a short hash."""
    name = "-".join(parts)
    if len(name) <= max_length:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:_SHORT_HASH_LENGTH]
    head = name[: max_length - _SHORT_HASH_LENGTH - 1].rstrip("-")
    return f"{head}-{digest}"
