"""Task results stored losslessly for resume: JSON with type tags, large values in files.

A resumed campaign hands its policy exactly the values the tasks produced before the
interruption, so what is stored must read back equal and of the same type. :func:`encode`
turns a value into JSON with a few tags (tuples, bytes, non-string dict keys, non-finite
floats, numpy arrays and scalars); values bigger than :data:`INLINE_BYTES` go to files under
``<learner dir>/results/`` and the journal line holds only their name. Nothing is pickled:
reading a campaign directory never runs code. A value that cannot be stored this way (an
arbitrary object a function task returned) raises :class:`Unstorable`; the campaign then
records that the task finished without its value, and a resume runs the task again.
"""

from __future__ import annotations

import base64
import io
import math
import os
import uuid
from collections.abc import Mapping
from typing import Any

import orjson

__all__ = ["INLINE_BYTES", "RESULTS_DIR", "UNSTORED", "Unstorable", "decode", "encode", "is_stored"]

#: encoded values larger than this (JSON characters) are written to their own file
INLINE_BYTES = 16 * 1024
#: the folder of a learner's directory holding large results
RESULTS_DIR = "results"

_TAG = "__rose__"


class Unstorable(TypeError):
    """A value the result store cannot write without loss (the task re-runs on resume)."""


def encode(value: Any, directory: str | None = None) -> Any:
    """A JSON value that :func:`decode` turns back into ``value`` (raises :class:`Unstorable`).

    With ``directory`` (the learner's directory), large values are written to files under
    ``directory/results/`` and referenced by name.
    """
    encoded = _encode(value, directory)
    if directory is None or encoded is None or isinstance(encoded, (bool, int, float)):
        return encoded
    if isinstance(encoded, str):
        return encoded if len(encoded) <= INLINE_BYTES else _to_file(orjson.dumps(encoded), directory)
    data = orjson.dumps(encoded)  # serialised once: measured here, written below if it is large
    return encoded if len(data) <= INLINE_BYTES else _to_file(data, directory)


def decode(value: Any, directory: str | None = None) -> Any:
    """The value :func:`encode` stored (files are read from ``directory``)."""
    if isinstance(value, list):
        return [decode(item, directory) for item in value]
    if not isinstance(value, dict):
        return value
    tag = value.get(_TAG)
    if tag is None:
        return {key: decode(item, directory) for key, item in value.items()}
    data: Any = value.get("v")
    if tag == "tuple":
        return tuple(decode(item, directory) for item in data)
    if tag == "float":
        return float(data)
    if tag == "bytes":
        return base64.b64decode(data)
    if tag == "dict":
        return {decode(k, directory): decode(v, directory) for k, v in data}
    if tag == "escaped":
        return {key: decode(item, directory) for key, item in data.items()}
    if tag in ("ndarray", "npscalar"):
        import numpy as np

        array = np.load(io.BytesIO(base64.b64decode(data)), allow_pickle=False)
        return array if tag == "ndarray" else array[()]
    if tag == "file":
        return _from_file(data, directory)
    raise ValueError(f"unknown stored-result tag {tag!r}; was this campaign written by a newer ROSE?")


def _encode(value: Any, directory: str | None) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int) and type(value) is int:
        return value
    if type(value) is float:
        return value if math.isfinite(value) else {_TAG: "float", "v": repr(value)}
    if type(value) is list:
        return [_encode(item, directory) for item in value]
    if type(value) is tuple:
        return {_TAG: "tuple", "v": [_encode(item, directory) for item in value]}
    if type(value) is bytes:
        return {_TAG: "bytes", "v": base64.b64encode(value).decode("ascii")}
    if type(value) is dict:
        if all(type(key) is str for key in value):
            body = {key: _encode(item, directory) for key, item in value.items()}
            return {_TAG: "escaped", "v": body} if _TAG in value else body
        return {_TAG: "dict", "v": [[_encode(k, directory), _encode(v, directory)] for k, v in value.items()]}
    module = type(value).__module__
    if module == "numpy":
        return _encode_numpy(value)
    raise Unstorable(
        f"a {type(value).__module__}.{type(value).__qualname__} cannot be stored without loss "
        f"(stored: None, bool, int, float, str, bytes, list, tuple, dict and numpy arrays/scalars)"
    )


def _encode_numpy(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.ndarray):
        tag = "ndarray"
    elif isinstance(value, np.generic):
        tag = "npscalar"
    else:
        raise Unstorable(f"a numpy {type(value).__qualname__} cannot be stored without loss")
    if getattr(value, "dtype", None) is not None and value.dtype.hasobject:
        raise Unstorable("a numpy array of Python objects cannot be stored without pickle")
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(value), allow_pickle=False)
    return {_TAG: tag, "v": base64.b64encode(buffer.getvalue()).decode("ascii")}


def _to_file(data: bytes, directory: str) -> dict[str, Any]:
    folder = os.path.join(directory, RESULTS_DIR)
    os.makedirs(folder, exist_ok=True)
    name = f"{uuid.uuid4().hex}.json"
    path = os.path.join(folder, name)
    with open(path + ".part", "wb") as handle:
        handle.write(data)
    os.replace(path + ".part", path)  # a reader never sees half a file
    return {_TAG: "file", "v": f"{RESULTS_DIR}/{name}"}


def _from_file(name: str, directory: str | None) -> Any:
    if directory is None:
        raise ValueError(f"stored result {name} is in a file, but no campaign directory was given")
    path = os.path.join(directory, name)
    with open(path, "rb") as handle:
        return decode(orjson.loads(handle.read()), directory)


def is_stored(value: Any) -> bool:
    """True for a journal field written by :func:`encode` (not a marker of an unstorable value)."""
    return not (isinstance(value, Mapping) and value.get(_TAG) == "unstored")


UNSTORED: dict[str, str] = {_TAG: "unstored"}
