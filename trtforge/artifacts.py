"""Artifacts: atomic writes, content hashes, and the freshness check that keeps stale files from being reused."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trtforge.errors import TrtforgeError


def write_atomic(path: str | os.PathLike[str], data: bytes | str) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; artifacts are shared like any other file
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def json_text(obj: Any) -> str:
    """Canonical JSON text: sorted keys, two-space indent, trailing newline (byte-identical for equal input)."""
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    return write_atomic(path, json_text(obj))


def read_json(path: str | os.PathLike[str], *, what: str) -> Any:
    source = Path(path)
    if not source.is_file():
        raise TrtforgeError.of(f"{what} at {source}", found="no such file",
                               fix="run the stage that makes it first (see `trtforge --help`)")
    try:
        return json.loads(source.read_text())
    except json.JSONDecodeError as err:
        raise TrtforgeError.of(f"{what} at {source} to be JSON", found=str(err),
                               fix="delete it and run the stage again") from None


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_json(obj: Any) -> str:
    return sha256_bytes(json_text(obj).encode())


def is_fresh(record_path: str | os.PathLike[str], inputs: Mapping[str, str],
             outputs: Mapping[str, str | os.PathLike[str]]) -> bool:
    """True when the JSON record at ``record_path`` was made from exactly ``inputs`` and every output file
    still has the hash the record wrote down (``outputs`` maps record keys to file paths)."""
    record = Path(record_path)
    if not record.is_file():
        return False
    try:
        data = json.loads(record.read_text())
    except json.JSONDecodeError:
        return False
    if data.get("inputs") != dict(inputs):
        return False
    hashes = data.get("outputs", {})
    return all(Path(path).is_file() and hashes.get(key) == sha256_file(path) for key, path in outputs.items())


def mismatches(expected: Mapping[str, str], found: Mapping[str, str]) -> list[str]:
    """Human-readable differences between two hash records (for 'stale artifact' errors)."""
    keys = sorted(set(expected) | set(found))
    return [f"{k}: expected {expected.get(k, '<absent>')!s:.16}, found {found.get(k, '<absent>')!s:.16}"
            for k in keys if expected.get(k) != found.get(k)]
