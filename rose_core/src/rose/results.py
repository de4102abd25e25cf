"""Task results stored losslessly for resume: JSON with type tags, large values in files.

A resumed campaign hands its policy exactly the values the tasks produced before the
interruption, so what is stored must read back equal and of the same type. :func:`encode`
turns a value into JSON with a few tags (tuples, bytes, non-string dict keys, non-finite
floats, numpy arrays and scalars); values bigger than :data:`INLINE_BYTES` go to files under
``<learner dir>/results/`` and the journal line holds only their name. A large dict is stored
key by key (each large value in its own file), and a file is named by a hash of its content:
the same value stored twice (a task's result, then the iteration's state that holds it) is
one file on disk. Nothing is pickled:
reading a campaign directory never runs code. A value that cannot be stored this way (an
arbitrary object a function task returned) raises :class:`Unstorable`; the campaign then
records that the task finished without its value, and a resume runs the task again.
"""

from __future__ import annotations

import base64
import hashlib
import io
import math
import os
import uuid
from collections.abc import Mapping
from typing import Any

import orjson

from rose import private
from rose.errors import JournalError

__all__ = ["INLINE_BYTES", "RESULTS_DIR", "UNSTORED", "Unstorable", "compact_state", "decode", "encode",
           "is_file_reference", "is_stored", "restore_state", "spill"]

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
    if directory is None:
        return encoded
    return spill(encoded, directory)


def spill(encoded: Any, directory: str) -> Any:
    """``encoded`` (JSON) with its large parts moved to files under ``directory/results/``.

    A value of at most :data:`INLINE_BYTES` stays as it is; a larger plain dict keeps its
    keys and spills its large values one by one (then, if still too large, goes to a file
    whole); anything else large goes to a file whole.
    """
    if encoded is None or isinstance(encoded, (bool, int, float)):
        return encoded
    if isinstance(encoded, str):
        return encoded if len(encoded) <= INLINE_BYTES else _to_file(orjson.dumps(encoded), directory)
    data = orjson.dumps(encoded)  # serialised once: measured here, written below if it is large
    if len(data) <= INLINE_BYTES:
        return encoded
    if type(encoded) is dict and _TAG not in encoded:
        spilt = {key: spill(item, directory) for key, item in encoded.items()}
        data = orjson.dumps(spilt)
        if len(data) <= INLINE_BYTES:
            return spilt
    return _to_file(data, directory)


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
    """Store ``data`` in ``results/<hash of data>.json`` (once: an existing file is the same value)."""
    folder = os.path.join(directory, RESULTS_DIR)
    name = f"{hashlib.blake2b(data, digest_size=16).hexdigest()}.json"
    path = os.path.join(folder, name)
    if not os.path.isfile(path):
        part = f"{path}.{uuid.uuid4().hex[:8]}.part"
        try:
            private.make_dirs(folder)
            private.write_bytes(part, data, exclusive=True)
            os.replace(part, path)  # a reader never sees half a file
        except OSError as exc:
            try:
                os.unlink(part)
            except OSError:
                pass
            raise JournalError(path, exc, what="a stored result of the campaign") from exc
    return {_TAG: "file", "v": f"{RESULTS_DIR}/{name}"}


def is_file_reference(value: Any) -> bool:
    """True for what :func:`encode` left in place of a value it wrote to a file."""
    return type(value) is dict and value.get(_TAG) == "file" and len(value) == 2


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


#: the fields of an iteration's state (``IterationState.to_dict``): a state value of the same
#: name stays under ``state`` only
STATE_FIELDS = frozenset({"iteration", "metric_name", "metric_value", "metric_threshold", "metric_history",
                          "should_stop", "learner_id", "current_config", "state"})
#: a state value copied to the top of an iteration's state is a number or a string at most this long
TOP_COPY_CHARS = 256


def compact_state(state: dict[str, Any], run_dir: str) -> dict[str, Any]:
    """An iteration's ``state`` (``IterationState.to_dict``) as the journal writes it: each
    value once, under ``state``, its large parts in files of ``run_dir/results/`` (the same
    files as the task results that reported them: :func:`rose.results.spill`); numbers, flags
    and short strings also stay at the top, where ``rose show`` and ``rose runs`` read them."""
    inner = state.get("state")
    if not isinstance(inner, dict) or not inner:
        return state
    compact = {key: value for key, value in state.items()
               if key in STATE_FIELDS or key not in inner or _top_copy(value)}
    compact["state"] = {key: spill(value, run_dir) for key, value in inner.items()}
    return compact


def _top_copy(value: Any) -> bool:
    """True for a state value that is also kept at the top of the iteration's state."""
    return value is None or isinstance(value, (bool, int, float)) or (
        isinstance(value, str) and len(value) <= TOP_COPY_CHARS)


def restore_state(state: dict[str, Any], run_dir: str) -> dict[str, Any]:
    """An iteration's state as :func:`compact_state` wrote it, with the values in files read back
    (and copied to the top again, as ``IterationState.to_dict`` has them)."""
    inner = state.get("state")
    if not isinstance(inner, dict) or not any(_has_file(value) for value in inner.values()):
        return state
    values = {key: decode(value, run_dir) if _has_file(value) else value for key, value in inner.items()}
    restored = {**state, "state": values}
    for key, value in values.items():
        restored.setdefault(key, value)
    return restored


def _has_file(value: Any) -> bool:
    """True when a stored state value holds a file reference (:func:`rose.results.spill` puts
    them in place of large values, in dicts)."""
    if type(value) is not dict:
        return False
    return is_file_reference(value) or any(_has_file(item) for item in value.values())

