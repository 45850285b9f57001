"""Values as people see them: secrets masked, errors described, hit ratios and durations.

The one home of each: every page, log line, health report and command goes through these, so a
password is masked the same way everywhere and a ratio is rounded the same way everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.utils.translation import gettext as _

MASK = "***"

# ``scheme://user:password@`` keeps the user; ``scheme://token@`` (no colon) is masked whole, since
# some clients read a lone userinfo as the password.
_URL_USERINFO = re.compile(r"(?P<head>[a-z][a-z0-9+.\-]*://)(?P<user>[^:/@\s]*)(?P<colon>:?)(?P<pw>[^@/\s]*)@", re.I)
# ``password=x`` in query strings and messages, and ``'password': 'x'`` in a dict's repr.
_KEY_VALUE = re.compile(
    r"(?P<head>(?P<q>['\"]?)\b(?:password|passwd|pwd|secret|token)(?P=q)\s*(?:=|:\s*)\s*['\"]?)(?P<value>[^&\s,;'\"})]+)",
    re.I,
)
#: OPTIONS keys whose values are secrets, at any depth (SENTINEL_KWARGS, CONNECTION_POOL_KWARGS...).
_SECRET_OPTION = re.compile(r"pass|secret|token|credential", re.I)
#: Longest error text shown (messages, health cards): enough to diagnose, short enough for a card.
MAX_ERROR_LENGTH = 500


def _userinfo(match: re.Match[str]) -> str:
    if match["colon"]:
        return f"{match['head']}{match['user']}:{MASK}@"
    return f"{match['head']}{MASK}@"


def mask_secrets(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with passwords in URLs and ``password=``-style pairs, and each of ``secrets``, as ``***``."""
    text = _URL_USERINFO.sub(_userinfo, text)
    text = _KEY_VALUE.sub(lambda m: f"{m['head']}{MASK}", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


def option_secrets(options: Mapping[str, Any] | None) -> list[str]:
    """Every secret-looking value in a cache's ``OPTIONS``, nested dicts included (to mask them)."""
    found: list[str] = []

    def walk(mapping: Mapping[str, Any]) -> None:
        for name, value in mapping.items():
            if isinstance(value, Mapping):
                walk(value)
            elif value and isinstance(name, str) and _SECRET_OPTION.search(name):
                found.append(str(value))

    walk(options or {})
    return found


def describe_error(exc: BaseException, secrets: Iterable[str] = ()) -> str:
    """``"ErrorClass: message"`` with secrets masked, shortened to :data:`MAX_ERROR_LENGTH`."""
    text = str(exc)
    described = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return mask_secrets(described, secrets)[:MAX_ERROR_LENGTH]


def hit_ratio(hits: Any, misses: Any) -> float | None:
    """``hits / (hits + misses)`` rounded to 4 places; None without traffic or for non-numbers."""
    try:
        hits, misses = int(hits), int(misses)
    except (TypeError, ValueError):
        return None
    total = hits + misses
    return round(hits / total, 4) if total > 0 else None


def human_duration(seconds: float | None) -> str:
    """A TTL for humans: ``300`` → "5 min", ``3600`` → "1 h", ``90000`` → "25 h", ``172800`` → "2 d".

    None means "never expires"; 0 or less "expires at once" (Django's timeout semantics).
    """
    if seconds is None:
        return _("never expires")
    seconds = int(seconds)
    if seconds <= 0:
        return _("expires at once")
    days, rest = divmod(seconds, 86400)
    if days >= 2 and rest == 0:
        return _("%(n)d d") % {"n": days}
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = []
    if hours:
        parts.append(_("%(n)d h") % {"n": hours})
    if minutes:
        parts.append(_("%(n)d min") % {"n": minutes})
    if secs:
        parts.append(_("%(n)d s") % {"n": secs})
    return " ".join(parts)
