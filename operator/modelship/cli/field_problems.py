"""A pydantic ValidationError of a user's manifest said as the API server's user reads it:
one line per field, its camelCase path in the input, then what to fix (a pattern in words, a
quoted number or an unquoted version called so, a uri shown without its secrets)."""

from __future__ import annotations

from typing import Any

import pydantic

from modelship.api.base import (
    CRON_PATTERN,
    DATA_URI_PATTERN,
    DNS_LABEL_PATTERN,
    DNS_SUBDOMAIN_PATTERN,
    DURATION_PATTERN,
    HTTP_URL_PATTERN,
    IMAGE_PATTERN,
    LABEL_VALUE_PATTERN,
    MODEL_URI_PATTERN,
    OUTPUT_URI_PATTERN,
    QUALIFIED_NAME_PATTERN,
    QUANTITY_PATTERN,
    SHA256_PATTERN,
)
from modelship.api.common import (
    ENV_NAME_PATTERN,
    MIG_PROFILE_PATTERN,
    SECRET_KEY_PATTERN,
    TOLERATION_KEY_PATTERN,
)
from modelship.api.model_source import MODEL_VERSION_PATTERN
from modelship.api.rollout import GATE_DATA_URI_PATTERN
from modelship.core.uri import redact

# Pydantic's prefix on errors raised by validators; the message says enough.
_VALUE_ERROR_PREFIX = "Value error, "
NO_SECRETS_IN_URIS = "with no user info or query string (put a presigned URL in a Secret)"
# What the API's patterns mean, for messages people read instead of regexes.
_PATTERN_MEANINGS = {
    QUANTITY_PATTERN: "a Kubernetes quantity such as 500m, 2Gi or 4",
    DNS_LABEL_PATTERN: "a DNS-1123 label (lower case letters, digits and '-')",
    DNS_SUBDOMAIN_PATTERN: "a DNS-1123 subdomain (lower case letters, digits, '-' and '.')",
    DURATION_PATTERN: "a duration such as 30s, 5m or 1h30m",
    CRON_PATTERN: (
        "a cron schedule such as '0 2 * * *' (minute 0-59, hour 0-23, day 1-31, month 1-12,"
        " weekday 0-7) or @daily"
    ),
    SHA256_PATTERN: "64 lower case hex digits",
    MIG_PROFILE_PATTERN: "a MIG profile such as 1g.10gb",
    MODEL_URI_PATTERN: (
        "a uri starting with s3://, gs://, az://, http(s)://, pvc://CLAIM (a claim's name) or file://,"
        f" {NO_SECRETS_IN_URIS}"
    ),
    OUTPUT_URI_PATTERN: (
        "a uri starting with s3://, gs://, az://, pvc://CLAIM (a claim's name) or file://,"
        f" {NO_SECRETS_IN_URIS}"
    ),
    HTTP_URL_PATTERN: f"an http:// or https:// URL, {NO_SECRETS_IN_URIS}",
    DATA_URI_PATTERN: (
        f"a uri such as s3://bucket/data/ or lakefs://repo/main, {NO_SECRETS_IN_URIS}"
    ),
    GATE_DATA_URI_PATTERN: (
        "an s3://, gs://, az:// or http(s):// uri of a .csv, .parquet or .jsonl table,"
        f" {NO_SECRETS_IN_URIS}"
    ),
    MODEL_VERSION_PATTERN: (
        "a version of letters, digits, '-', '_' and '.', starting and ending with a letter or"
        " digit, such as 2024.11.3 or v2-rc1 (it labels the pods)"
    ),
    ENV_NAME_PATTERN: (
        "a variable name of letters, digits, '-', '_' and '.', not starting with a digit"
    ),
    SECRET_KEY_PATTERN: "a Secret key of letters, digits, '-', '_' and '.'",
    IMAGE_PATTERN: "an image reference without whitespace, such as ghcr.io/org/triton:24.10",
    LABEL_VALUE_PATTERN: (
        "a label value (at most 63 letters, digits, '-', '_' or '.', starting and ending with "
        "a letter or digit)"
    ),
    QUALIFIED_NAME_PATTERN: "a qualified name such as example.com/Ready",
    TOLERATION_KEY_PATTERN: "a taint key (a label name such as nvidia.com/gpu), or empty",
}

# What a field of a JSON type wants, for a quoted value the API server would refuse.
_TYPE_WANTED = {
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
}
_URI_PATTERNS = frozenset(
    {
        MODEL_URI_PATTERN,
        OUTPUT_URI_PATTERN,
        HTTP_URL_PATTERN,
        DATA_URI_PATTERN,
        GATE_DATA_URI_PATTERN,
    }
)


def field_problems(error: pydantic.ValidationError, document: Any) -> list[str]:
    """One line per invalid field: its camelCase path in the input, then what is wrong.

    Paths follow the input document, so pydantic's union-member tags (such as
    `int` in `cpu.int`) are dropped; where several members of a union failed,
    the type mismatches give way to the more specific complaint.
    """
    by_path: dict[str, list[tuple[str, str]]] = {}
    for detail in error.errors():
        path = _input_path(detail["loc"], document, missing=detail["type"] == "missing")
        by_path.setdefault(path, []).append((detail["type"], _message(detail)))
    lines = []
    for path, found in by_path.items():
        specific = [msg for kind, msg in found if not kind.endswith(("_type", "_parsing"))]
        messages = list(dict.fromkeys(specific or [msg for _, msg in found]))
        text = "; ".join(messages)
        lines.append(f"{path}: {text}" if path else text)
    return lines


def _message(detail: Any) -> str:
    if detail["type"] == "extra_forbidden":
        return "unknown field: remove it or fix its spelling (kubectl explain lists the fields)"
    pattern = detail.get("ctx", {}).get("pattern")
    meaning = _PATTERN_MEANINGS.get(pattern)
    if detail["type"] == "string_pattern_mismatch" and meaning is not None:
        given = detail["input"]
        # A password or a presigned URL's signature must not reach a CI log through us.
        if pattern in _URI_PATTERNS and (shown := redact(given)) != given:
            return (
                f"must be {meaning}, not a uri with user info, a query string or a fragment"
                f" (shown here without them: {shown!r})"
            )
        return f"must be {meaning}, not {given!r}"
    if detail["type"] == "string_type" and isinstance(detail.get("input"), int | float | bool):
        # YAML reads version: 3 (or 1.10, or yes) as a number or bool, not the text meant.
        given = detail["input"]
        return f"must be a string, not the {type(given).__name__} {given!r}: quote it in the YAML"
    if detail["type"] in _TYPE_WANTED:
        wanted, given = _TYPE_WANTED[detail["type"]], detail.get("input")
        if isinstance(given, str):
            return f"must be {wanted}, not the string {given!r}: remove the quotes"
        return f"must be {wanted}, not {given!r}"
    return str(detail["msg"]).removeprefix(_VALUE_ERROR_PREFIX)


def _input_path(loc: tuple[int | str, ...], document: Any, missing: bool) -> str:
    path = ""
    node = document
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        if isinstance(part, int) and isinstance(node, list) and part < len(node):
            path += f"[{part}]"
            node = node[part]
        elif isinstance(node, dict) and part in node:
            path += f".{part}" if path else str(part)
            node = node[part]
        elif last and missing:
            path += f".{part}" if path else str(part)
    return path
