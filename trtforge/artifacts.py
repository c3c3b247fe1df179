"""Artifacts: atomic writes, content hashes, and the freshness check that keeps stale files from being reused.

Temporary files and folders live in the artifact folder itself (never the system temp dir) and carry the
writer's pid in their name (``.<target>.trtforge-<pid>.<random>.tmp``, ``.trtforge-tmp-<pid>-<random>``):
the first write into a folder in a process removes those whose writer is no longer running (a run killed
with ``kill -9``), and leaves those of live concurrent runs alone.

A record can be *sealed*: it then carries ``record_sha256``, the hash of its own content, so a hand-edited
record (``plan.json``, an engine sidecar) is detected on reuse and redone, never served.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from trtforge.errors import TrtforgeError

SELF_HASH = "record_sha256"
_TEMP_FILE = re.compile(r"^\..+\.trtforge-(\d+)\.[A-Za-z0-9_]+\.tmp$")
_TEMP_DIR = re.compile(r"^\.trtforge-tmp-(\d+)-[A-Za-z0-9_-]+$")
_LEGACY_TEMP = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")  # mkstemp names written before the pid was recorded
_LEGACY_AGE_S = 600  # a temp file named without a pid (older trtforge) is removed once untouched this long
_swept: set[Path] = set()
_ENV_ERRNOS = {errno.ENOSPC: "no space left on the device", errno.EROFS: "a read-only file system",
               errno.EACCES: "no permission", errno.EPERM: "no permission", errno.EDQUOT: "the disk quota exceeded"}


def ensure_dir(folder: str | os.PathLike[str]) -> Path:
    """``folder`` created if needed (one ``TrtforgeError`` if it names a file or cannot be created); stale
    temporary files of killed runs in it are removed (once per process and folder)."""
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise TrtforgeError.of(f"an artifact folder at {path}", found="a file of that name",
                               fix="set output_dir / --out to a folder, or move the file")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise TrtforgeError.of(f"an artifact folder at {path}", found="a file where a parent folder should be",
                               fix="set output_dir / --out to a folder, or move the file") from None
    except OSError as err:
        raise environment_error(err, f"to create the artifact folder {path}") from None
    sweep_stale_temps(path)
    return path


def environment_error(err: OSError, doing: str) -> Exception:
    """A ``TrtforgeError`` for a full disk, a read-only folder or missing permission; other errors unchanged."""
    what = _ENV_ERRNOS.get(err.errno or 0)
    if what is None:
        return err
    name = errno.errorcode.get(err.errno or 0, "")
    where = f" at {err.filename}" if err.filename else ""
    return TrtforgeError.of(f"a writable folder with free space {doing}", found=f"{what} ({name}{where})",
                            fix="free space, make the folder writable, or choose another with --out")


def write_atomic(path: str | os.PathLike[str], data: bytes | str) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    target = Path(path)
    ensure_dir(target.parent)
    payload = data.encode() if isinstance(data, str) else data
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.trtforge-{os.getpid()}.", suffix=".tmp",
                                   dir=target.parent)
    except OSError as err:
        raise environment_error(err, f"to write {target}") from None
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; artifacts are shared like any other file
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise environment_error(err, f"to write {target}") from None
        raise
    return target


@contextlib.contextmanager
def temp_dir(folder: str | os.PathLike[str], prefix: str = "") -> Iterator[Path]:
    """A temporary folder inside the artifact folder ``folder``, removed on exit (and by the next run if this
    one is killed). Use it instead of ``tempfile.TemporaryDirectory()`` for anything a stage writes."""
    parent = ensure_dir(folder)
    try:
        path = Path(tempfile.mkdtemp(prefix=f".trtforge-tmp-{os.getpid()}-{prefix}", dir=parent))
    except OSError as err:
        raise environment_error(err, f"to create a temporary folder in {parent}") from None
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def sweep_stale_temps(folder: str | os.PathLike[str], *, force: bool = False) -> list[Path]:
    """Remove the temporary files and folders in ``folder`` whose writer process is gone; returns them."""
    path = Path(folder).resolve()
    if path in _swept and not force:
        return []
    _swept.add(path)
    removed = []
    try:
        entries = list(path.iterdir())
    except OSError:
        return []
    for entry in entries:
        if _is_stale_temp(entry):
            with contextlib.suppress(OSError):
                shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
                removed.append(entry)
    return removed


def _is_stale_temp(entry: Path) -> bool:
    match = _TEMP_FILE.match(entry.name) or _TEMP_DIR.match(entry.name)
    if match:
        return not _pid_alive(int(match.group(1)))
    if _LEGACY_TEMP.match(entry.name) and entry.is_file():
        with contextlib.suppress(OSError):
            import time

            return time.time() - entry.stat().st_mtime > _LEGACY_AGE_S
    return False


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # another user's live process (or a pid we cannot test): leave its files alone
    return True


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def json_text(obj: Any) -> str:
    """Canonical JSON text: sorted keys, two-space indent, trailing newline (byte-identical for equal input)."""
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    return write_atomic(path, json_text(obj))


def read_json(path: str | os.PathLike[str], *, what: str, kind: type | None = None) -> Any:
    """The JSON at ``path``; one ``TrtforgeError`` when it is missing, unreadable, not UTF-8 or not JSON, or
    (``kind`` given, e.g. ``dict``) when its top level is not of that type."""
    source = Path(path)
    if not source.is_file():
        raise TrtforgeError.of(f"{what} at {source}", found="no such file",
                               fix="run the stage that makes it first (see `trtforge --help`)")
    try:
        data = json.loads(source.read_bytes().decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as err:
        raise TrtforgeError.of(f"{what} at {source} to be JSON (UTF-8)", found=str(err)[:200],
                               fix="delete it and run the stage again") from None
    except OSError as err:
        raise TrtforgeError.of(f"{what} at {source} to be readable", found=str(err),
                               fix="check its permissions") from None
    if kind is not None and not isinstance(data, kind):
        raise TrtforgeError.of(f"{what} at {source} to be a JSON {_JSON_KINDS.get(kind, kind.__name__)}",
                               found=f"a {type(data).__name__}", fix="delete it and run the stage again")
    return data


_JSON_KINDS: dict[type, str] = {dict: "object", list: "array"}


def seal(record: Mapping[str, Any]) -> dict[str, Any]:
    """``record`` with ``record_sha256``: the hash of its own content (every other key)."""
    body = {k: v for k, v in record.items() if k != SELF_HASH}
    return {**body, SELF_HASH: sha256_json(body)}


def is_sealed(record: Any) -> bool:
    """True when ``record`` is a JSON object whose ``record_sha256`` matches its content (it was not edited)."""
    if not isinstance(record, dict) or not isinstance(record.get(SELF_HASH), str):
        return False
    try:
        return record[SELF_HASH] == sha256_json({k: v for k, v in record.items() if k != SELF_HASH})
    except (TypeError, ValueError):
        return False


def write_sealed_json(path: str | os.PathLike[str], record: Mapping[str, Any]) -> Path:
    return write_json(path, seal(record))


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_FILE_HASHES: dict[tuple[str, int, int, int, int, int], str] = {}


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The file's SHA-256. One command hashes the same large ONNX in several stages: the hash is remembered
    for this process while the file's inode, size, mtime and ctime are unchanged (an atomic rewrite makes a new
    inode; an in-place edit changes mtime/ctime), so each file is read once per command."""
    with open(path, "rb") as handle:
        info = os.fstat(handle.fileno())
        key = (os.path.realpath(path), info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
        known = _FILE_HASHES.get(key)
        if known is not None:
            return known
        digest = hashlib.sha256()
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    _FILE_HASHES[key] = digest.hexdigest()
    return _FILE_HASHES[key]


def sha256_json(obj: Any) -> str:
    return sha256_bytes(json_text(obj).encode())


def is_fresh(record_path: str | os.PathLike[str], inputs: Mapping[str, str],
             outputs: Mapping[str, str | os.PathLike[str]], *, sealed: bool = False,
             check: Callable[[dict[str, Any]], None] | None = None) -> bool:
    """True when the JSON record at ``record_path`` was made from exactly ``inputs`` and every output file
    still has the hash the record wrote down (``outputs`` maps record keys to file paths). ``sealed``: the
    record's own ``record_sha256`` must match its content too; ``check``: a schema check that must pass (a
    ``TrtforgeError`` from it makes the record stale, so the stage redoes it instead of serving it)."""
    record = Path(record_path)
    if not record.is_file():
        return False
    try:
        data = json.loads(record.read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError):  # unreadable, not UTF-8, not JSON
        return False
    if not isinstance(data, dict) or data.get("inputs") != dict(inputs):
        return False
    if sealed and not is_sealed(data):
        _log_stale(record, "its content does not match its record_sha256 (edited or damaged)")
        return False
    if check is not None:
        try:
            check(data)
        except TrtforgeError as err:
            _log_stale(record, str(err))
            return False
    hashes = data.get("outputs", {})
    if not isinstance(hashes, dict):
        return False
    return all(Path(path).is_file() and hashes.get(key) == sha256_file(path) for key, path in outputs.items())


def _log_stale(record: Path, why: str) -> None:
    from trtforge.log import logger

    logger.warning("%s is not reused: %s; redoing it", record, why)


def mismatches(expected: Mapping[str, str], found: Mapping[str, str]) -> list[str]:
    """Human-readable differences between two hash records (for 'stale artifact' errors)."""
    keys = sorted(set(expected) | set(found))
    return [f"{k}: expected {expected.get(k, '<absent>')!s:.16}, found {found.get(k, '<absent>')!s:.16}"
            for k in keys if expected.get(k) != found.get(k)]
