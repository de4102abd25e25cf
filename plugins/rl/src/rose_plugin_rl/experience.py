"""Experiences and experience banks, stored in a safe, versioned file format.

An :class:`Experience` is one transition ``(state, action, reward, next_state, done,
info)``. An :class:`ExperienceBank` holds many (FIFO when ``max_size`` is set), samples
them reproducibly, merges banks and saves/loads them.

File format (``.npz``, format version 1)
----------------------------------------
A bank file is a numpy ``.npz`` archive readable with ``numpy.load(path,
allow_pickle=False)``: no pickle anywhere, so loading a file never runs code. Members:

``header``
    UTF-8 JSON (stored as a ``uint8`` array)::

        {"format": "rose-experience-bank", "version": 1, "count": N,
         "session_id": "...", "max_size": null, "created": "2026-11-22T10:00:00+00:00",
         "fields": {"state": {"encoding": "array", "dtype": "<f8", "shape": [4]},
                    "action": {"encoding": "array", "dtype": "<i8", "shape": []},
                    "next_state": {"encoding": "json"}, ...}}

``reward``
    ``float64`` array of shape ``(N,)``.
``done``
    ``bool`` array of shape ``(N,)``.
``state``, ``action``, ``next_state``
    When every value of the field is numeric (numbers or numeric arrays) of one shape:
    one stacked array of shape ``(N, *shape)`` (encoding ``"array"``). Otherwise
    (strings, ``None``, ragged lists, dicts) a member ``<field>.json`` holding a UTF-8
    JSON list of the N values (encoding ``"json"``).
``info.json``
    UTF-8 JSON list of the N ``info`` dicts.

Scalar ``"array"`` fields load as Python numbers, other ``"array"`` fields as numpy
arrays, ``"json"`` fields as JSON values (lists, dicts, strings, numbers, ``None``).
Readers reject files whose ``format`` is not ``rose-experience-bank`` or whose
``version`` is newer than they know. Files are written to a temporary name and renamed,
so a reader never sees a half-written bank.
"""

from __future__ import annotations

import datetime as _dt
import io
import itertools
import json
import logging
import os
import random
import uuid
import zipfile
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np

from rose_plugin_rl.errors import CorruptBankError, ExperienceBankError, MissingBankError

__all__ = [
    "BANK_PREFIX",
    "BANK_SUFFIX",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "Experience",
    "ExperienceBank",
    "create_experience",
]

logger = logging.getLogger(__name__)

FORMAT_NAME = "rose-experience-bank"
FORMAT_VERSION = 1
BANK_PREFIX = "experience_bank_"
BANK_SUFFIX = ".npz"
_VALUE_FIELDS = ("state", "action", "next_state")
_NUMERIC_KINDS = frozenset("biuf")


def _values_equal(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        try:
            return bool(np.array_equal(np.asarray(a), np.asarray(b)))
        except (TypeError, ValueError):
            return False
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_values_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_values_equal(a[k], b[k]) for k in a)
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


@dataclass(eq=False)
class Experience:
    """One transition: ``state`` --``action``--> ``next_state`` with ``reward``.

    ``done`` marks the end of an episode; ``info`` is a JSON-serialisable dict for
    anything else (episode id, exploration setting, ...). Equality compares numpy arrays
    by value.
    """

    state: Any
    action: Any
    reward: float
    next_state: Any
    done: bool
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.info is None:
            self.info = {}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Experience):
            return NotImplemented
        return all(
            _values_equal(getattr(self, name), getattr(other, name))
            for name in ("state", "action", "reward", "next_state", "done", "info")
        )

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        """The six fields as a dict."""
        return {
            "state": self.state,
            "action": self.action,
            "reward": self.reward,
            "next_state": self.next_state,
            "done": self.done,
            "info": self.info,
        }


def create_experience(
    state: Any, action: Any, reward: float, next_state: Any, done: bool, info: dict[str, Any] | None = None
) -> Experience:
    """Build an :class:`Experience` (``info`` defaults to an empty dict)."""
    return Experience(state, action, reward, next_state, done, dict(info) if info else {})


def _default_session_id() -> str:
    stamp = _dt.datetime.now().strftime("%Y%m%d_%H%M%S")
    return f"{BANK_PREFIX}{stamp}_{uuid.uuid4().hex[:8]}"


def _check_max_size(max_size: Any) -> int | None:
    if max_size is None:
        return None
    if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
        raise ValueError(f"ExperienceBank max_size must be a whole number >= 1 or None (unbounded), got {max_size!r}")
    return max_size


class ExperienceBank:
    """A collection of :class:`Experience` objects.

    ``max_size`` bounds the bank: adding beyond it drops the oldest experiences (FIFO);
    ``None`` is unbounded. ``seed`` seeds the bank's own random generator used by
    :meth:`sample`. ``session_id`` names the default file (``<session_id>.npz``); the
    default id starts with ``experience_bank_``, the pattern ParallelExperience merges.
    """

    def __init__(self, max_size: int | None = None, session_id: str | None = None, seed: int | None = None) -> None:
        self.max_size = _check_max_size(max_size)
        self.session_id = session_id or _default_session_id()
        self._items: deque[Experience] = deque(maxlen=self.max_size)
        self._rng = np.random.default_rng(seed)

    # -- adding and removing --------------------------------------------------------
    def add(self, experience: Experience) -> None:
        """Append one experience (dropping the oldest when the bank is full)."""
        if not isinstance(experience, Experience):
            raise TypeError(
                f"ExperienceBank.add expects an Experience, got {type(experience).__name__}; "
                f"build one with create_experience(state, action, reward, next_state, done, info)"
            )
        self._items.append(experience)

    def add_batch(self, experiences: Iterable[Experience]) -> None:
        """Append several experiences in order."""
        for experience in experiences:
            self.add(experience)

    def clear(self) -> None:
        """Remove every experience."""
        self._items.clear()

    # -- reading ------------------------------------------------------------------------
    def sample(
        self,
        batch_size: int,
        replace: bool = True,
        *,
        seed: int | None = None,
        rng: np.random.Generator | random.Random | None = None,
    ) -> list[Experience]:
        """``batch_size`` random experiences (with or without replacement).

        The same ``seed`` gives the same sample of the same bank; ``rng`` (a numpy
        ``Generator`` or a ``random.Random``) is used as given; otherwise the bank's own
        generator (``ExperienceBank(seed=...)``) is used. An empty bank gives ``[]``.
        Without replacement, asking for more than the bank holds is a ValueError.
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 0:
            raise ValueError(f"sample: batch_size must be a whole number >= 0, got {batch_size!r}")
        size = len(self._items)
        if size == 0 or batch_size == 0:
            return []
        if not replace and batch_size > size:
            raise ValueError(
                f"Cannot sample {batch_size} experiences without replacement from a bank of size {size}; "
                f"use replace=True or a batch_size <= {size}"
            )
        if seed is not None and rng is not None:
            raise ValueError("sample: give either seed or rng, not both")
        if isinstance(rng, random.Random):
            indices: Sequence[int] = (
                rng.choices(range(size), k=batch_size) if replace else rng.sample(range(size), batch_size)
            )
        else:
            generator = rng if rng is not None else (np.random.default_rng(seed) if seed is not None else self._rng)
            if replace:
                indices = generator.integers(0, size, size=batch_size).tolist()
            else:
                indices = generator.choice(size, size=batch_size, replace=False).tolist()
        items = self._items
        return [items[i] for i in indices]

    def get_recent(self, n: int) -> list[Experience]:
        """The ``n`` most recent experiences, oldest first (``n=0`` gives ``[]``)."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"get_recent: n must be a whole number >= 0, got {n!r}")
        if n == 0:
            return []
        start = max(0, len(self._items) - int(n))
        return list(itertools.islice(self._items, start, None))

    def as_arrays(self) -> dict[str, np.ndarray]:
        """Stacked numpy arrays ``state, action, reward, next_state, done`` (for training).

        Raises ValueError when a field's values cannot be stacked (different shapes).
        """
        out: dict[str, np.ndarray] = {}
        for name in ("state", "action", "reward", "next_state", "done"):
            values = [getattr(e, name) for e in self._items]
            try:
                out[name] = np.asarray(values)
            except ValueError as exc:
                raise ValueError(f"as_arrays: field {name!r} cannot be stacked: {exc}") from None
            if out[name].dtype == object:
                raise ValueError(f"as_arrays: field {name!r} has values of different shapes or types")
        return out

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Experience]:
        return iter(list(self._items))

    @overload
    def __getitem__(self, index: int) -> Experience: ...

    @overload
    def __getitem__(self, index: slice) -> list[Experience]: ...

    def __getitem__(self, index: int | slice) -> Experience | list[Experience]:
        if isinstance(index, slice):
            return list(self._items)[index]
        return self._items[index]

    def __repr__(self) -> str:
        return f"ExperienceBank(size={len(self)}, max_size={self.max_size}, session_id={self.session_id!r})"

    # -- merging ------------------------------------------------------------------------
    def merge(self, other: ExperienceBank) -> ExperienceBank:
        """A new bank with this bank's experiences followed by ``other``'s.

        Its ``max_size`` is the larger of the two sizes (``None`` when both are unbounded).
        """
        if not isinstance(other, ExperienceBank):
            raise TypeError(f"merge expects an ExperienceBank, got {type(other).__name__}")
        sizes = [s for s in (self.max_size, other.max_size) if s is not None]
        merged = ExperienceBank(max_size=max(sizes) if sizes else None)
        merged.add_batch(self._items)
        merged.add_batch(other._items)
        return merged

    def merge_inplace(self, other: ExperienceBank) -> ExperienceBank:
        """Append ``other``'s experiences to this bank (FIFO under ``max_size``); returns self."""
        if not isinstance(other, ExperienceBank):
            raise TypeError(f"merge_inplace expects an ExperienceBank, got {type(other).__name__}")
        if other is self:
            self._items.extend(list(self._items))
        else:
            self._items.extend(other._items)
        return self

    # -- files --------------------------------------------------------------------------
    def default_path(self, work_dir: str | os.PathLike[str] | None = None) -> str:
        """Where :meth:`save` writes without arguments.

        ``$ROSE_BANK_FILE`` when set (ParallelExperience sets it for each environment
        task), else ``<work_dir or $ROSE_WORK_DIR or .>/<session_id>.npz``.
        """
        if work_dir is None and os.environ.get("ROSE_BANK_FILE"):
            return os.environ["ROSE_BANK_FILE"]
        directory = os.fspath(work_dir) if work_dir is not None else os.environ.get("ROSE_WORK_DIR", ".")
        return os.path.join(directory, f"{self.session_id}{BANK_SUFFIX}")

    def save(
        self,
        work_dir: str | os.PathLike[str] | None = None,
        bank_file: str | None = None,
        *,
        compress: bool = False,
    ) -> str:
        """Write the bank (format version 1, see the module docs) and return the path.

        ``bank_file`` is a file name inside ``work_dir`` (or a path); without it the name
        is ``<session_id>.npz``. Without both, see :meth:`default_path`. The file is
        written to a temporary name and renamed, so readers never see a partial bank.
        """
        if bank_file is not None:
            base = os.fspath(work_dir) if work_dir is not None else os.environ.get("ROSE_WORK_DIR", ".")
            path = os.path.join(base, bank_file)
        else:
            path = self.default_path(work_dir)
        payload = self._encode()
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        tmp = os.path.join(directory, f".{os.path.basename(path)}.tmp-{os.getpid()}-{uuid.uuid4().hex[:6]}")
        try:
            with open(tmp, "wb") as handle:
                if compress:
                    np.savez_compressed(handle, **payload)  # type: ignore[arg-type]
                else:
                    np.savez(handle, **payload)  # type: ignore[arg-type]
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        logger.debug("saved %d experiences to %s", len(self), path)
        return path

    def _encode(self) -> dict[str, np.ndarray]:
        items = list(self._items)
        count = len(items)
        payload: dict[str, np.ndarray] = {}
        fields: dict[str, dict[str, Any]] = {}
        for name in _VALUE_FIELDS:
            values = [getattr(e, name) for e in items]
            array = _stack_numeric(values)
            if array is not None:
                payload[name] = array
                fields[name] = {"encoding": "array", "dtype": array.dtype.str, "shape": list(array.shape[1:])}
            else:
                payload[f"{name}.json"] = _json_member(values, name)
                fields[name] = {"encoding": "json"}
        rewards = np.empty(count, dtype=np.float64)
        for i, e in enumerate(items):
            try:
                rewards[i] = float(e.reward)
            except (TypeError, ValueError):
                raise TypeError(f"cannot save experience {i}: reward {e.reward!r} is not a number") from None
        payload["reward"] = rewards
        payload["done"] = np.array([bool(e.done) for e in items], dtype=bool)
        payload["info.json"] = _json_member([e.info for e in items], "info")
        fields["reward"] = {"encoding": "array", "dtype": "<f8", "shape": []}
        fields["done"] = {"encoding": "array", "dtype": "|b1", "shape": []}
        fields["info"] = {"encoding": "json"}
        header = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "count": count,
            "session_id": self.session_id,
            "max_size": self.max_size,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "fields": fields,
        }
        payload["header"] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
        return payload

    @classmethod
    def load(cls, filepath: str | os.PathLike[str], max_size: int | None = None) -> ExperienceBank:
        """Read a bank written by :meth:`save`.

        ``max_size`` defaults to the saved bank's. A missing file raises
        :class:`~rose_plugin_rl.errors.MissingBankError`, anything that is not a valid
        bank :class:`~rose_plugin_rl.errors.CorruptBankError`; both name the path.
        """
        path = os.fspath(filepath)
        if not os.path.exists(path):
            raise MissingBankError(
                f"experience bank {path} does not exist (check the path, or that the task that "
                f"should write it ran and called bank.save())",
                path,
            )
        header, items = _read_bank(path)
        bank = cls(
            max_size=max_size if max_size is not None else header.get("max_size"),
            session_id=header.get("session_id") or None,
        )
        bank._items.extend(items)
        return bank


def _stack_numeric(values: list[Any]) -> np.ndarray | None:
    """Stack values into one numeric array, or None when they do not all fit one."""
    if not values:
        return None
    arrays = []
    shape: tuple[int, ...] | None = None
    for value in values:
        if value is None or isinstance(value, (str, bytes, Mapping)):
            return None
        try:
            array = np.asarray(value)
        except (ValueError, TypeError):
            return None
        if array.dtype.kind not in _NUMERIC_KINDS:
            return None
        if shape is None:
            shape = array.shape
        elif array.shape != shape:
            return None
        arrays.append(array)
    return np.stack(arrays)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    raise TypeError(f"value of type {type(value).__name__} is not JSON-serialisable")


def _json_member(values: list[Any], name: str) -> np.ndarray:
    try:
        text = json.dumps(values, default=_json_default)
    except (TypeError, ValueError):
        for i, value in enumerate(values):
            try:
                json.dumps(value, default=_json_default)
            except (TypeError, ValueError) as exc:
                raise TypeError(
                    f"cannot save experience {i}: field {name!r} holds {value!r} ({exc}); experience "
                    f"banks store numbers, strings, lists, dicts and numpy arrays only (no pickle)"
                ) from None
        raise
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)


def _read_bank(path: str) -> tuple[dict[str, Any], list[Experience]]:
    def corrupt(reason: str, cause: BaseException | None = None) -> CorruptBankError:
        error = CorruptBankError(f"{path} is not a readable experience bank: {reason}", path)
        error.__cause__ = cause
        return error

    try:
        with open(path, "rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        raise ExperienceBankError(f"cannot read experience bank {path}: {exc}", path) from exc
    if magic[:1] == b"\x80":
        raise corrupt(
            "it is a pickle file (the ROSE 0.3 .pkl format). ROSE never loads pickles because "
            "loading one can run arbitrary code; re-create the bank with ExperienceBank.save()"
        )
    if magic[:2] != b"PK":
        raise corrupt("it is not an .npz archive (wrong magic bytes; truncated or another file type)")
    try:
        with np.load(path, allow_pickle=False) as data:
            if not isinstance(data, np.lib.npyio.NpzFile):  # pragma: no cover - guarded by magic
                raise corrupt("it is not an .npz archive")
            members = set(data.files)
            if "header" not in members:
                raise corrupt("the 'header' member is missing")
            try:
                header = json.loads(bytes(data["header"].tobytes()).decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise corrupt(f"the header is not valid JSON ({exc})", exc) from None
            if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
                raise corrupt(f"the header does not describe a {FORMAT_NAME!r} file")
            version = header.get("version")
            if not isinstance(version, int) or version < 1:
                raise corrupt(f"unknown format version {version!r}")
            if version > FORMAT_VERSION:
                raise corrupt(
                    f"it uses format version {version}, newer than this rose-plugin-rl reads "
                    f"({FORMAT_VERSION}); upgrade rose-plugin-rl"
                )
            count = header.get("count")
            if not isinstance(count, int) or count < 0:
                raise corrupt(f"bad experience count {count!r} in the header")
            if count == 0:
                return header, []
            fields = header.get("fields") or {}
            columns: dict[str, list[Any]] = {}
            for name in (*_VALUE_FIELDS, "reward", "done", "info"):
                columns[name] = _read_column(data, members, name, fields.get(name), count, corrupt)
    except CorruptBankError:
        raise
    except (zipfile.BadZipFile, ValueError, KeyError, OSError, EOFError, io.UnsupportedOperation) as exc:
        raise corrupt(f"{type(exc).__name__}: {exc}", exc) from exc
    items = [
        Experience(s, a, r, n, d, i)
        for s, a, r, n, d, i in zip(
            columns["state"], columns["action"], columns["reward"], columns["next_state"], columns["done"], columns["info"]
        )
    ]
    return header, items


def _read_column(
    data: Any, members: set[str], name: str, spec: Any, count: int, corrupt: Any
) -> list[Any]:
    if not isinstance(spec, dict) or spec.get("encoding") not in ("array", "json"):
        raise corrupt(f"the header does not describe field {name!r}")
    if spec["encoding"] == "array":
        if name not in members:
            raise corrupt(f"member {name!r} is missing")
        array = data[name]
        if array.ndim < 1 or array.shape[0] != count:
            raise corrupt(f"field {name!r} holds {array.shape[0] if array.ndim else 0} values, header says {count}")
        if array.dtype.kind not in _NUMERIC_KINDS:
            raise corrupt(f"field {name!r} has non-numeric dtype {array.dtype}")
        if array.ndim == 1:
            return list(array.tolist())
        return list(array)
    member = f"{name}.json"
    if member not in members:
        raise corrupt(f"member {member!r} is missing")
    try:
        values = json.loads(data[member].tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise corrupt(f"field {name!r} is not valid JSON ({exc})", exc) from None
    if not isinstance(values, list) or len(values) != count:
        raise corrupt(f"field {name!r} does not hold {count} values")
    return values
