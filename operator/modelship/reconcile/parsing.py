"""Reading API objects leniently, and pydantic errors as one line a user can act on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def problems(error: ValidationError) -> str:
    """A pydantic error as `field.path: what is wrong` lines joined with '; '."""
    lines = []
    for item in error.errors():
        path = ".".join(str(part) for part in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"{path}: {message}" if path else message)
    return "; ".join(lines)


def lenient(model: type[M], data: Any) -> M:
    """`data` parsed as `model`, keeping only the fields it knows (others write there too)."""
    if not isinstance(data, Mapping):
        return model()
    known = {field.alias or name for name, field in model.model_fields.items()}
    try:
        return model.model_validate({k: v for k, v in data.items() if k in known})
    except ValidationError:
        return model()


def typed(model: type[M], body: Mapping[str, Any]) -> M | ValidationError:
    """An object's metadata and spec as `model`; or why they are not valid (decide reports it)."""
    try:
        return model.model_validate({"metadata": body["metadata"], "spec": body.get("spec", {})})
    except ValidationError as error:
        return error
