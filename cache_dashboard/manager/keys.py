"""Key normalisation: any ``str`` key maps to one name every backend accepts, without collisions."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import quote

# Characters kept as they are. Excluded on purpose: whitespace and control characters (memcached),
# glob metacharacters ``* ? [ ] \`` (so SCAN patterns stay meaningful), ``%`` (the escape of
# ``quote``) and ``#`` (the marker of hashed keys, so a hashed key can never equal a quoted one).
_SAFE_KEY = ":@/+=,!$()"  # plus quote()'s always-safe "_.-~" and ASCII letters/digits
_SAFE_NAMESPACE = "@+=,!$()"  # no ":" — the namespace is one field of a ":"-joined key
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_.\-~:@/+=,!$()]{0,100}")
_PLAIN_NAMESPACE = re.compile(r"[A-Za-z0-9_.\-~@+=,!$()]{1,48}")

#: Longest normalised key kept readable; longer ones are replaced by ``#`` + sha256.
MAX_KEY_LENGTH = 100
MAX_NAMESPACE_LENGTH = 48


def _hashed(value: str) -> str:
    return "#" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def normalize_key(key: str) -> str:
    """Return the backend-safe form of ``key``.

    Printable ASCII keys up to 100 characters come back unchanged; anything else is
    percent-encoded, and what is still longer than 100 characters becomes ``#`` + sha256 hex.
    The mapping is injective: percent-encoding is, and ``#`` never survives it.
    """
    if type(key) is not str:
        if not isinstance(key, str):
            raise TypeError(f"cache keys must be str, not {type(key).__name__}")
        key = str(key)
    if _PLAIN_KEY.fullmatch(key):
        return key
    quoted = quote(key, safe=_SAFE_KEY, errors="surrogatepass")
    if len(quoted) <= MAX_KEY_LENGTH:
        return quoted
    return _hashed(key)


def normalize_namespace(namespace: str) -> str:
    """Return the backend-safe form of a namespace name (no ``:``, at most 48 characters)."""
    if not isinstance(namespace, str):
        raise TypeError(f"namespaces must be str, not {type(namespace).__name__}")
    if not namespace:
        raise ValueError("a namespace cannot be empty; pass namespace=None for none")
    if _PLAIN_NAMESPACE.fullmatch(namespace):
        return namespace
    quoted = quote(namespace, safe=_SAFE_NAMESPACE, errors="surrogatepass")
    if len(quoted) <= MAX_NAMESPACE_LENGTH:
        return quoted
    return _hashed(namespace)[:41]  # "#" + 40 hex digits: 160 bits, still collision-free in practice


def escape_glob(text: str) -> str:
    """Escape Redis glob metacharacters so ``text`` matches only itself in a SCAN MATCH."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


class KeyBuilder:
    """Builds the cache keys of one epoch (see ``CacheManager.clear_all``).

    Layout (all inside the cache's own ``KEY_PREFIX``/``VERSION`` through ``make_key``)::

        {P}:{epoch}:k:{key}            plain entry
        {P}:{epoch}:n:{ns}:{key}       namespaced entry
        {P}:{epoch}:g:{ns}             namespace generation
        {P}:{epoch}:l:...              stampede lock of an entry
        {P}:{epoch}:r:{ns}:...         negative-cache registry of a namespace
        {P}:s:...                      statistics (survive clear_all)
        {P}:epoch, {P}:idx             epoch counter, index of known namespaces
    """

    __slots__ = ("prefix", "epoch", "base")

    def __init__(self, prefix: str, epoch: int) -> None:
        self.prefix = prefix
        self.epoch = epoch
        self.base = f"{prefix}:{epoch}:"

    def entry(self, nkey: str, nns: str | None) -> str:
        if nns is None:
            return f"{self.base}k:{nkey}"
        return f"{self.base}n:{nns}:{nkey}"

    def entry_prefix(self, nns: str | None) -> str:
        return f"{self.base}k:" if nns is None else f"{self.base}n:{nns}:"

    def generation(self, nns: str) -> str:
        return f"{self.base}g:{nns}"

    def lock(self, entry_key: str) -> str:
        return f"{self.base}l:{entry_key[len(self.base):]}"

    def registry_entry(self, nns: str, nkey: str) -> str:
        return f"{self.base}r:{nns}:e:{nkey}"

    def registry_seq(self, nns: str) -> str:
        return f"{self.base}r:{nns}:seq"

    def registry_low(self, nns: str) -> str:
        return f"{self.base}r:{nns}:low"

    def registry_log(self, nns: str, seq: int) -> str:
        return f"{self.base}r:{nns}:log:{seq}"
