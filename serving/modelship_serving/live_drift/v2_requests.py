"""Reading a model's input tensors out of a KServe v2 (Triton) inference request, as the
gateway mirrors it: HTTP with a JSON body, HTTP with Triton's binary-tensor extension,
or a gRPC `ModelInferRequest` (typed `contents` or `raw_input_contents`).

Only the tensors the model takes are decoded, each flattened in row order (the package
gives every column a [rows, 1] input). A request this module cannot read raises
`UnreadableRequestError`; the receiver counts it as skipped and goes on.
"""

from __future__ import annotations

import json
import math
import struct
import zlib
from collections.abc import Collection, Iterable
from typing import Any

import numpy as np

from modelship_serving.live_drift.traces import TracedRequest

BYTES = "BYTES"
# Little-endian, as the v2 binary extension and Triton's raw contents lay tensors out.
NUMPY_TYPES: dict[str, str] = {
    "BOOL": "?",
    "UINT8": "<u1",
    "UINT16": "<u2",
    "UINT32": "<u4",
    "UINT64": "<u8",
    "INT8": "<i1",
    "INT16": "<i2",
    "INT32": "<i4",
    "INT64": "<i8",
    "FP16": "<f2",
    "FP32": "<f4",
    "FP64": "<f8",
}
# The typed field of a gRPC InferTensorContents that carries each datatype (FP16: raw only).
GRPC_CONTENTS: dict[str, str] = {
    "BOOL": "bool_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    BYTES: "bytes_contents",
}

Values = list[float] | list[str]
# One mirrored request may carry at most this many values of the model's inputs: each
# becomes a Python object (~32 bytes) before it is counted, and the pod has 512Mi.
MAX_VALUES_PER_REQUEST = 1_000_000
# A gzip/deflate body may inflate to at most this (a small bomb must not fill the pod).
MAX_DECODED_BYTES = 8 * 1024 * 1024


class UnreadableRequestError(ValueError):
    """The request is no v2 inference request whose inputs can be read."""


def _element_count(shape: Iterable[Any]) -> int:
    dims = [int(dim) for dim in shape]
    if any(dim < 0 for dim in dims):
        raise UnreadableRequestError(f"negative dimension in shape {dims}")
    return math.prod(dims)


def _declared_count(name: str, shape: Iterable[Any], values_left: int) -> int:
    """The element count a tensor's shape declares, refused before any value is decoded
    where the request's inputs would hold more than MAX_VALUES_PER_REQUEST together."""
    count = _element_count(shape)
    if count > values_left:
        raise UnreadableRequestError(
            f"input {name!r} brings the request over {MAX_VALUES_PER_REQUEST} values"
        )
    return count


def _text(value: bytes) -> str:
    return value.decode("utf-8", errors="replace")


def _raw_strings(raw: bytes, count: int) -> list[str]:
    """BYTES elements serialised as (4-byte little-endian length, bytes) each; more than
    ``count`` of them are refused unread."""
    strings: list[str] = []
    offset = 0
    while offset < len(raw):
        if len(strings) == count:
            raise UnreadableRequestError(f"more than the {count} BYTES elements its shape holds")
        if offset + 4 > len(raw):
            raise UnreadableRequestError("truncated BYTES element length")
        (length,) = struct.unpack_from("<I", raw, offset)
        offset += 4
        if offset + length > len(raw):
            raise UnreadableRequestError("truncated BYTES element")
        strings.append(_text(raw[offset : offset + length]))
        offset += length
    if len(strings) != count:
        raise UnreadableRequestError(f"{len(strings)} BYTES elements for {count} values")
    return strings


def _raw_values(name: str, datatype: str, raw: bytes, count: int) -> Values:
    """The ``count`` values of a raw tensor; another number of them is refused undecoded."""
    if datatype == BYTES:
        return _raw_strings(raw, count)
    numpy_type = NUMPY_TYPES.get(datatype)
    if numpy_type is None:
        raise UnreadableRequestError(f"input {name!r} has unknown datatype {datatype!r}")
    if len(raw) != count * np.dtype(numpy_type).itemsize:
        raise UnreadableRequestError(f"input {name!r} holds {len(raw)} bytes for {count} values")
    try:
        array = np.frombuffer(raw, dtype=numpy_type)
    except ValueError as error:
        raise UnreadableRequestError(f"input {name!r}: {error}") from error
    values: list[float] = array.astype(np.float64).tolist()
    return values


def _flattened(data: Any) -> list[Any]:
    """JSON tensor data, flat or nested in row-major lists, as one flat list."""
    if not isinstance(data, list):
        return [data]
    flat: list[Any] = []
    for item in data:
        flat.extend(_flattened(item) if isinstance(item, list) else [item])
    return flat


def _json_values(name: str, datatype: str, data: Any, count: int) -> Values:
    flat = _flattened(data)
    if len(flat) != count:
        raise UnreadableRequestError(f"input {name!r} holds {len(flat)} values for {count}")
    if datatype == BYTES:
        if not all(isinstance(value, str) for value in flat):
            raise UnreadableRequestError(f"input {name!r} is BYTES but holds a non-string")
        return flat
    if datatype not in NUMPY_TYPES:
        raise UnreadableRequestError(f"input {name!r} has unknown datatype {datatype!r}")
    if not all(isinstance(value, int | float) for value in flat):  # bool is an int
        raise UnreadableRequestError(f"input {name!r} is {datatype} but holds a non-number")
    return [float(value) for value in flat]


def decoded_body(body: bytes, content_encoding: str | None) -> bytes:
    """The body without its Content-Encoding (Triton accepts gzip and deflate)."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "identity":
        return body
    if encoding not in ("gzip", "deflate"):
        raise UnreadableRequestError(f"unknown Content-Encoding {encoding!r}")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS)
    try:
        # Inflating stops one byte past the bound: a bomb never grows beyond it.
        decoded = inflater.decompress(body, MAX_DECODED_BYTES + 1)
    except zlib.error as error:
        raise UnreadableRequestError(f"body is not valid {encoding}: {error}") from error
    if len(decoded) > MAX_DECODED_BYTES:
        raise UnreadableRequestError(f"{encoding} body inflates beyond {MAX_DECODED_BYTES} bytes")
    if not inflater.eof:
        raise UnreadableRequestError(f"body is not valid {encoding}: truncated")
    return decoded


def http_request_inputs(
    body: bytes, header_length: int | None, wanted: Collection[str]
) -> TracedRequest:
    """The ``wanted`` input tensors of an HTTP v2 request body; ``header_length`` is the
    Inference-Header-Content-Length header (binary tensors follow the JSON header)."""
    if header_length is not None and not 0 <= header_length <= len(body):
        raise UnreadableRequestError(f"header length {header_length} beyond the body's {len(body)}")
    header_end = len(body) if header_length is None else header_length
    try:
        header = json.loads(body[:header_end])
    except (ValueError, UnicodeDecodeError) as error:
        raise UnreadableRequestError(f"body is not JSON: {error}") from error
    inputs = header.get("inputs") if isinstance(header, dict) else None
    if not isinstance(inputs, list):
        raise UnreadableRequestError("body has no list of inputs")
    request = TracedRequest()
    offset = header_end
    values_left = MAX_VALUES_PER_REQUEST
    for tensor in inputs:
        if not isinstance(tensor, dict):
            raise UnreadableRequestError("an input is not an object")
        name, datatype = str(tensor.get("name", "")), str(tensor.get("datatype", ""))
        shape = tensor.get("shape", [])
        parameters = tensor.get("parameters") or {}
        if not isinstance(shape, list) or not isinstance(parameters, dict):
            raise UnreadableRequestError(f"input {name!r} has a malformed shape or parameters")
        binary_size = parameters.get("binary_data_size")
        if binary_size is not None:  # binary tensors follow in the inputs' order
            if not isinstance(binary_size, int) or not 0 <= binary_size <= len(body) - offset:
                raise UnreadableRequestError(f"input {name!r} binary_data_size beyond the body")
            raw = body[offset : offset + binary_size]
            offset += binary_size
            if name in wanted:
                count = _declared_count(name, shape, values_left)
                values_left -= count
                request.inputs[name] = _raw_values(name, datatype, raw, count)
        elif name in wanted:
            if "data" not in tensor:  # shared memory, or nothing: no values to count
                raise UnreadableRequestError(f"input {name!r} carries no data")
            count = _declared_count(name, shape, values_left)
            values_left -= count
            request.inputs[name] = _json_values(name, datatype, tensor["data"], count)
    return request


def grpc_request_inputs(message: Any, wanted: Collection[str]) -> TracedRequest:
    """The ``wanted`` input tensors of a gRPC ``ModelInferRequest``."""
    raw_contents = list(message.raw_input_contents)
    if raw_contents and len(raw_contents) != len(message.inputs):
        raise UnreadableRequestError(
            f"{len(raw_contents)} raw input contents for {len(message.inputs)} inputs"
        )
    request = TracedRequest()
    values_left = MAX_VALUES_PER_REQUEST
    for index, tensor in enumerate(message.inputs):
        name, datatype = str(tensor.name), str(tensor.datatype)
        if name not in wanted:
            continue
        count = _declared_count(name, tensor.shape, values_left)
        values_left -= count
        if raw_contents:
            request.inputs[name] = _raw_values(name, datatype, raw_contents[index], count)
            continue
        field = GRPC_CONTENTS.get(datatype)
        if field is None:
            raise UnreadableRequestError(f"input {name!r}: no typed contents for {datatype!r}")
        contents = getattr(tensor.contents, field)
        if len(contents) != count:
            raise UnreadableRequestError(f"input {name!r} holds {len(contents)} values for {count}")
        request.inputs[name] = (
            [_text(value) for value in contents]
            if datatype == BYTES
            else [float(value) for value in contents]
        )
    return request
