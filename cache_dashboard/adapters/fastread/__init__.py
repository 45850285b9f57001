"""Optional hit-path readers per backend (see ``base``); the public API is always the fallback."""

from cache_dashboard.adapters.fastread.base import (
    READERS_ATTR,
    FastReader,
    Incompatible,
    NotApplicable,
    Readers,
    demote,
    forget_warnings,
    is_fast,
    key_maker,
    public_readers,
    readers_for,
)

__all__ = [
    "READERS_ATTR", "FastReader", "Incompatible", "NotApplicable", "Readers", "demote", "forget_warnings", "is_fast",
    "key_maker", "public_readers", "readers_for",
]
