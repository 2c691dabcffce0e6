"""Reading the input tensors out of a Triton trace file (`--trace-config level=TENSORS`).

Triton 2.51 writes each file as a JSON array of records, one per tensor of each traced
request, e.g. ``{"id":1,"activity":"TENSOR_QUEUE_INPUT","tensor":{"name":"age",
"data":"30,40","shape":"2,1","dtype":"FP32"}}``. Numbers are written as C++ streams print
them ("nan", "1e+30"); strings are wrapped in quotes but not escaped, so a string holding
a quote or a newline makes the file invalid JSON. Such a file is read record by record
instead, and a tensor whose values cannot be told apart is dropped with its request.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

INPUT_ACTIVITY = "TENSOR_QUEUE_INPUT"
STRING_DATATYPE = "BYTES"

_RECORD = re.compile(
    r'\{"id":(?P<id>\d+),"activity":"(?P<activity>[A-Z_]+)","tensor":\{"name":"(?P<name>[^"]*)",'
    r'"data":"(?P<data>.*?)","shape":"(?P<shape>[0-9,]*)","dtype":"(?P<dtype>[A-Z0-9]+)"\}\}'
    r"(?=,\{\"id\":|\]\s*$|$)",
    re.DOTALL,
)


@dataclass
class TracedRequest:
    """The input tensors of one sampled request (traced, or mirrored: `v2_requests`),
    flattened, by tensor name."""

    inputs: dict[str, list[float] | list[str]] = field(default_factory=dict)
    unreadable: bool = False
    """A tensor's values could not be read: the request is not counted."""


def _element_count(shape: str) -> int:
    return math.prod(int(dim) for dim in shape.split(",") if dim) if shape else 1


def _values(data: str, dtype: str, shape: str, quote: str) -> list[float] | list[str] | None:
    """The tensor's values, or None when they cannot be told apart."""
    expected = _element_count(shape)
    if expected == 0:
        return []
    if dtype == STRING_DATATYPE:
        if not (data.startswith(quote) and data.endswith(quote)) or len(data) < 2 * len(quote):
            return None
        strings = data[len(quote) : -len(quote)].split(f"{quote},{quote}")
        return strings if len(strings) == expected else None
    try:
        numbers = [float(text) for text in data.split(",")]
    except ValueError:
        return None
    return numbers if len(numbers) == expected else None


def _add(
    requests: dict[int, TracedRequest],
    request_id: int,
    name: str,
    values: list[float] | list[str] | None,
) -> None:
    request = requests.setdefault(request_id, TracedRequest())
    if values is None:
        request.unreadable = True
    else:
        request.inputs[name] = values


def parse_trace_file(text: str) -> list[TracedRequest]:
    """The traced requests of one trace file, with their input tensors (outputs ignored)."""
    requests: dict[int, TracedRequest] = {}
    try:
        records = json.loads(text)
    except json.JSONDecodeError:
        records = None
    if isinstance(records, list):
        for record in records:
            tensor = record.get("tensor") if isinstance(record, dict) else None
            if record.get("activity") != INPUT_ACTIVITY or not isinstance(tensor, dict):
                continue
            values = _values(
                str(tensor.get("data", "")),
                str(tensor.get("dtype", "")),
                str(tensor.get("shape", "")),
                quote='"',
            )
            _add(requests, int(record.get("id", 0)), str(tensor.get("name", "")), values)
    else:  # strings Triton did not escape: read record by record from the raw text
        for match in _RECORD.finditer(text):
            if match["activity"] != INPUT_ACTIVITY:
                continue
            values = _values(match["data"], match["dtype"], match["shape"], quote='\\"')
            _add(requests, int(match["id"]), match["name"], values)
    return list(requests.values())
