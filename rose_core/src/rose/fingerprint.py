"""Fingerprints of a task's inputs, so a resume reuses a recorded result only for the same call.

A resumed campaign hands a policy the results its tasks recorded before the interruption
instead of running them again. A recorded result is reused only when the call matches on
everything the task was given: the task, the iteration, its position among identical calls
(the first ``run("select")`` of an iteration gets the first recorded result, the second the
second) and the fingerprint of its inputs, computed here:

* every positional argument and every keyword argument counts by its value: a digest of its
  canonical JSON form (numpy arrays by dtype, shape and bytes). A value that has no such form
  (an arbitrary object) counts by its type only, as it cannot be stored either;
* a top-level string or path argument inside the task's working directory (the campaign
  directory) counts by its path relative to it, so a moved campaign directory still matches;
  one that names an existing regular file also counts by the file's content, as it was when
  the task finished: a content hash for files up to
  :data:`FILE_HASH_BYTES`, the size only for bigger ones (reading gigabytes per task is not
  cheap). Relative names are resolved against the task's working directory.

:func:`of_call` gives the key the journal records with the task (a ``str``, ``""`` for a call
without inputs); :func:`file_digests` the state of the named files when the task ends;
:func:`changed` names the inputs that differ between a recorded call and the current one.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

__all__ = ["FILE_HASH_BYTES", "CallKey", "changed", "describe", "file_digests", "of_call"]

#: files named as inputs up to this size count by a hash of their content; bigger ones by size
FILE_HASH_BYTES = 1024 * 1024
#: names longer than this (or with a newline) are not looked up as files
_MAX_PATH = 1024
_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


class CallKey(str):
    """The journal key of one task call (its text), with the digests it was built from.

    ``inputs`` maps each input (``"0"``, ``"1"``... for positional arguments, the keyword for
    keyword arguments) to the digest of its value; ``paths`` maps inputs that may name a file
    to the absolute path they name (checked when the task ends, see :func:`file_digests`).
    """

    inputs: dict[str, str]
    paths: dict[str, str]


def _default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"bytes": hashlib.blake2b(bytes(value), digest_size=16).hexdigest()}
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    tolist = getattr(value, "tolist", None)  # numpy arrays orjson cannot take (non-contiguous...)
    if callable(tolist) and type(value).__module__ == "numpy":
        return {"dtype": str(getattr(value, "dtype", "")), "v": tolist()}
    raise TypeError


def _digest(value: Any) -> str:
    if value is None or value is True or value is False:  # the commonest inputs (no result handed on): known
        return _CONSTANTS[value]
    if type(value) is str:  # commands' stdout can be large: hashed as it is, not escaped into JSON first
        return hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=6, person=b"str").hexdigest()
    if type(value).__module__ == "numpy" and hasattr(value, "tobytes") and not getattr(value.dtype, "hasobject", True):
        # an array by its dtype, shape and bytes: no conversion to lists (the same numbers in another dtype differ)
        data = f"{value.dtype.str}{getattr(value, 'shape', ())}".encode() + value.tobytes()
        return hashlib.blake2b(data, digest_size=6).hexdigest()
    return _json_digest(value)


def _json_digest(value: Any) -> str:
    """The digest of ``value``'s canonical JSON form (the general case of :func:`_digest`)."""
    try:
        data = orjson.dumps(value, default=_default, option=_OPTIONS)
    except (TypeError, orjson.JSONEncodeError):
        data = _slow_form(value)
    return hashlib.blake2b(data, digest_size=6).hexdigest()


def _slow_form(value: Any) -> bytes:
    """What orjson cannot write (integers beyond 64 bits...): the lossless result encoding, else the type."""
    from rose import results

    try:
        return json.dumps(results.encode(value), sort_keys=True).encode()
    except (TypeError, ValueError):  # results.Unstorable is a TypeError
        return f"<{type(value).__module__}.{type(value).__qualname__}>".encode()


def _path_of(value: Any, cwd: str | None) -> str | None:
    if type(value) is not str:
        if value is None or not isinstance(value, os.PathLike):
            return None  # the common case (numbers, arrays, results handed on): no file to look at
        value = os.fspath(value)
        if not isinstance(value, str):
            return None
    if not value or len(value) > _MAX_PATH or "\n" in value or "\0" in value:
        return None
    return value if os.path.isabs(value) or cwd is None else os.path.join(cwd, value)


def of_call(args: Sequence[Any], kwargs: Mapping[str, Any], cwd: str | None = None) -> CallKey:
    """The key of a call with ``args`` and ``kwargs`` (``""`` without inputs).

    ``cwd`` is where the task runs (relative file names are resolved against it). The
    returned key, its ``inputs`` and its ``paths`` are shared between equal calls: read them,
    never change them.
    """
    if not args and not kwargs:
        return _NO_INPUTS
    inputs: dict[str, str] = {}
    paths: dict[str, str] = {}
    for index, value in enumerate(args):
        inputs[str(index)] = _input_digest(str(index), value, cwd, paths)
    for name in sorted(kwargs) if len(kwargs) > 1 else kwargs:
        inputs[name] = _input_digest(name, kwargs[name], cwd, paths)
    text = ";".join(f"{name}={digest}" for name, digest in inputs.items())
    if not paths:  # the same inputs again (every iteration of most loops): the same key
        known = _KEYS.get(text)
        if known is not None:
            return known
    key = CallKey(hashlib.blake2b(text.encode(), digest_size=8).hexdigest())
    key.inputs = inputs
    key.paths = paths or _NO_PATHS
    if not paths:
        if len(_KEYS) >= _KEYS_KEPT:
            _KEYS.clear()
        _KEYS[text] = key
    return key


def _input_digest(name: str, value: Any, cwd: str | None, paths: dict[str, str]) -> str:
    """The digest of one input; an input that may name a file is entered in ``paths``."""
    path = _path_of(value, cwd)
    if path is not None:
        paths[name] = path
        if cwd and path.startswith(os.path.join(cwd, "")):  # relocatable: a moved campaign still matches
            value = os.path.relpath(path, cwd)
    return _digest(value)


#: the keys of recent calls without file inputs, by their digests' text (bounded: cleared when full)
_KEYS: dict[str, CallKey] = {}
_KEYS_KEPT = 4096


_NO_INPUTS = CallKey("")
_NO_INPUTS.inputs = {}
_NO_PATHS: dict[str, str] = {}  # shared by every key without file inputs: read, never changed
_NO_INPUTS.paths = _NO_PATHS
#: the digests of None, True and False, computed once the general way (journals written before agree)
_CONSTANTS: dict[Any, str] = {value: _json_digest(value) for value in (None, True, False)}


def file_digests(paths: Mapping[str, str]) -> dict[str, str]:
    """For each input naming an existing regular file: ``"<size>:<content hash>"`` (``"<size>"``
    above :data:`FILE_HASH_BYTES`). Inputs that name no file are left out."""
    out: dict[str, str] = {}
    for name, path in paths.items():
        try:
            info = os.stat(path)
        except (OSError, ValueError):
            continue
        if not stat.S_ISREG(info.st_mode):
            continue
        if info.st_size > FILE_HASH_BYTES:
            out[name] = str(info.st_size)
            continue
        try:
            with open(path, "rb") as handle:
                content = handle.read(FILE_HASH_BYTES + 1)
        except OSError:
            continue
        out[name] = f"{len(content)}:{hashlib.blake2b(content, digest_size=8).hexdigest()}"
    return out


def changed(recorded: Mapping[str, str], current: Mapping[str, str]) -> list[str]:
    """The inputs whose digest differs (or that exist on one side only), in a stable order."""
    names = list(dict.fromkeys([*current, *recorded]))
    return [name for name in names if recorded.get(name) != current.get(name)]


def describe(names: Sequence[str]) -> str:
    """``["0", "pool"]`` -> ``"positional argument 0, keyword 'pool'"``."""
    return ", ".join(f"positional argument {n}" if n.isdigit() else f"keyword {n!r}" for n in names)
