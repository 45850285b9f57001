"""FileBasedCache: shared by processes on one host; its incr is read-modify-write, not atomic."""

from __future__ import annotations

import os
import pickle
import tempfile
import time
from typing import ClassVar

from cache_dashboard.adapters.base import Adapter, Capabilities
from cache_dashboard.adapters.listing import (
    DONE,
    KeyPage,
    ListedKey,
    RawValue,
    page_sorted,
    plain_unpickle,
    seconds_left,
)


class FileBasedAdapter(Adapter):
    name = "file"
    probe_in_thread = False  # no socket to hang on
    capabilities = Capabilities(key_browsing=True)
    #: The directory holds one file per key, named by the key's MD5: the key itself is not stored,
    #: so a listing shows file names and cannot be filtered by key.
    names_are_hashes: ClassVar[bool] = True

    def _dir(self) -> str:
        return str(self.cache._dir)  # type: ignore[attr-defined]  # FileBasedCache's directory

    def _path(self, raw: bytes) -> str | None:
        """The file of a listed name, or None for anything that is not one of the cache's files."""
        name = raw.decode("utf-8", "surrogatepass")
        suffix = self.cache.cache_suffix  # type: ignore[attr-defined]
        if os.path.basename(name) != name or not name.endswith(suffix) or name.startswith("."):
            return None
        return os.path.join(self._dir(), name)

    def list_keys(self, match: str, cursor: str, count: int, budget: float) -> KeyPage:
        """The cache's files in name order (``match`` cannot apply: the names are hashes). Costs
        one directory listing per page; each shown file's expiry is read (plain data only)."""
        suffix = self.cache.cache_suffix  # type: ignore[attr-defined]
        try:
            with os.scandir(self._dir()) as found:
                names = [entry.name for entry in found if entry.name.endswith(suffix) and entry.is_file()]
        except FileNotFoundError:
            return KeyPage()
        shown, after = page_sorted(names, lambda name: True, cursor, count)
        now, page = time.time(), KeyPage(cursor=after, scanned=len(names))
        for name in shown:
            facts = self._facts(os.path.join(self._dir(), name), now)
            if facts is not None:
                expiry, size, _rest = facts
                page.keys.append(ListedKey(raw=name.encode(), ttl=seconds_left(expiry, now), size=size))
        return page

    @staticmethod
    def _facts(path: str, now: float, read_rest: int = 0) -> tuple[float | None, int, bytes] | None:
        """(expiry, size, the first ``read_rest`` bytes after the expiry) of a live cache file."""
        try:
            with open(path, "rb") as f:
                expiry = plain_unpickle(f)
                rest = f.read(read_rest) if read_rest else b""
                size = os.fstat(f.fileno()).st_size
        except (OSError, EOFError, pickle.UnpicklingError, ValueError):
            return None
        if not (expiry is None or isinstance(expiry, (int, float))) or (expiry is not None and expiry <= now):
            return None
        return expiry, size, rest

    def read_key(self, raw: bytes, limit: int, cursor: str = DONE) -> RawValue | None:
        path = self._path(raw)
        facts = None if path is None else self._facts(path, time.time(), limit)
        if facts is None:
            return None
        expiry, size, rest = facts
        # What follows the expiry is the zlib-compressed pickle of the value: shown as bytes only.
        return RawValue(raw=raw, ttl=seconds_left(expiry, time.time()), size=size, length=size, payload=rest)

    def delete_raw(self, raw: bytes) -> bool:
        path = self._path(raw)
        if path is None:
            return False
        try:
            os.remove(path)
        except FileNotFoundError:
            return False
        return True

    def expire_raw(self, raw: bytes, seconds: int | None) -> bool:
        """The file rewritten with a new expiry and the same value bytes, atomically (a temporary
        file renamed over it, as FileBasedCache writes)."""
        path = self._path(raw)
        if path is None:
            return False
        try:
            with open(path, "rb") as f:
                plain_unpickle(f)
                value = f.read()
        except (OSError, EOFError, pickle.UnpicklingError, ValueError):
            return False
        expiry = None if seconds is None else time.time() + seconds
        fd, temporary = tempfile.mkstemp(dir=self._dir())
        try:
            with open(fd, "wb") as f:
                f.write(pickle.dumps(expiry, pickle.HIGHEST_PROTOCOL))
                f.write(value)
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.remove(temporary)
        return True
