"""One process trains a run at a time: an OS file lock per run id (``filelock``).

Two ``pepita run`` of one grid on one results folder share the work: each takes the runs
whose locks are free, and comes back to the others once their owner lets go, when their
records are usually stored. The lock files live in ``<results>/.locks/`` (left in place:
deleting a lock file another process is about to open would let two processes hold "the
same" lock). A killed process holds nothing: the OS drops its locks with its files.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

LOCK_FOLDER = ".locks"


def run_lock(results_dir: str | Path, rid: str) -> FileLock:
    """The lock of run ``rid`` in ``results_dir`` (not yet acquired)."""
    folder = Path(results_dir) / LOCK_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    return FileLock(folder / f"{rid}.lock")


def file_lock(path: str | Path) -> FileLock:
    """The lock guarding one output file, ``<path>.lock`` beside it (``pepita train``)."""
    return FileLock(Path(str(path) + ".lock"))


def try_acquire(locks: list[FileLock]) -> bool:
    """Acquire every lock without waiting, or none of them; True when all are held."""
    held = []
    for lock in locks:
        try:
            lock.acquire(timeout=0)
        except Timeout:
            for h in held:
                h.release()
            return False
        held.append(lock)
    return True


@contextmanager
def holding(locks: list[FileLock], wait: bool = False) -> Iterator[None]:
    """Hold ``locks`` (already acquired unless ``wait``: then block until each is free)."""
    try:
        if wait:
            for lock in locks:
                lock.acquire()
        yield
    finally:
        for lock in locks:
            if lock.is_locked:
                lock.release()
