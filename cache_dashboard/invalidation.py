"""Declarative, signal-driven cache invalidation: model writes -> keys and namespaces, after commit.

Instead of hand-written ``post_save``/``post_delete`` receivers (where forgetting one leaves stale
data), declare once which cache entries depend on a model::

    from cache_dashboard.invalidation import invalidate_on

    invalidate_on(
        Producto,
        keys=["estadisticas_ventas", lambda p: f"producto_{p.pk}"],
        namespaces=["lista_productos"],
    )

or as a class decorator on the model::

    @invalidate_on(keys=["estadisticas_ventas"])
    class Pedido(models.Model): ...

What triggers a rule
    ``post_save`` and ``post_delete`` of the model (and of its subclasses and proxies), and
    ``m2m_changed`` (add/remove/clear, from either side) of any many-to-many relation that
    involves the model.

When it runs
    Keys are computed when the signal fires (a deleted row still has its ``pk`` then), but the
    cache is touched only in ``transaction.on_commit``: a reader cannot re-cache the old row
    between the write and the commit, and a rolled-back write (or savepoint) invalidates nothing.
    Outside a transaction (autocommit) the invalidation runs at once.

What does *not* trigger a rule
    ``QuerySet.update()``, ``QuerySet.bulk_create()``, ``bulk_update()`` and raw SQL send no
    model signals. After those, call :func:`invalidate_for` yourself::

        Producto.objects.filter(activo=False).update(precio=0)
        invalidate_for(Producto, Producto.objects.filter(activo=False))

Every invalidation passes ``source="rule:<app_label>.<Model>"`` to the ``CacheManager`` so the
dashboard counts invalidations by rule, and each rule records when it last fired in the cache
itself (every process sees it); :func:`rules_status` lists them for the dashboard.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

from django.apps import apps
from django.core.cache import caches
from django.db import models, router, transaction
from django.db.models.signals import ModelSignal, m2m_changed, post_delete, post_save

from cache_dashboard.keys import rule_key
from cache_dashboard.manager import CacheManager, cache_manager

__all__ = [
    "InvalidationRule",
    "connect_signals",
    "get_rules",
    "invalidate_for",
    "invalidate_on",
    "rules_status",
    "unregister",
]

logger = logging.getLogger("cache_dashboard.invalidation")

#: A key or namespace spec: a fixed string, or a callable of the instance returning a string,
#: an iterable of strings, or ``None`` (nothing to invalidate for this instance).
KeySpec = str | Callable[[Any], "str | Iterable[str] | None"]
ModelT = TypeVar("ModelT", bound=type[models.Model])


@dataclass(eq=False)
class InvalidationRule:
    """One declared dependency: writes to ``model`` invalidate ``keys`` and ``namespaces``.

    Build it with :func:`invalidate_on`, not directly.
    """

    model: type[models.Model]
    keys: tuple[KeySpec, ...] = ()
    namespaces: tuple[KeySpec, ...] = ()
    key_namespace: str | None = None
    alias: str | None = None
    name: str = ""
    on_save: bool = True
    on_delete: bool = True
    on_m2m: bool = True
    #: This process's copy of the last-fired record (the shared copy lives in the cache).
    last_fired_local: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def source(self) -> str:
        """The ``source`` passed to the CacheManager, e.g. ``"rule:shop.Producto"``."""
        return f"rule:{self.name}"

    @property
    def model_label(self) -> str:
        return self.model._meta.label

    def resolve(self, instances: Iterable[models.Model] | None) -> tuple[list[str], list[str]]:
        """Return ``(keys, namespaces)`` to invalidate for ``instances``.

        With ``instances=None`` only the fixed strings are returned (callables need an instance).
        Exceptions raised by key callables propagate: a broken rule should fail loudly in tests
        rather than silently leave stale data.
        """
        items = list(instances) if instances is not None else None
        keys = _expand(self.keys, items)
        namespaces = _expand(self.namespaces, items)
        return keys, namespaces

    def schedule(
        self,
        instances: Iterable[models.Model] | None,
        *,
        using: str | None,
        trigger: str,
    ) -> None:
        """Compute the keys now and invalidate them once the transaction on ``using`` commits."""
        keys, namespaces = self.resolve(list(instances) if instances is not None else None)
        if not keys and not namespaces:
            return
        transaction.on_commit(lambda: self.execute(keys, namespaces, trigger=trigger), using=using)

    def execute(self, keys: list[str], namespaces: list[str], *, trigger: str = "manual") -> None:
        """Invalidate now (no transaction handling) and record the firing.

        Cache errors are logged, never raised: the database write has already committed, and a
        failed invalidation must not turn it into an error response.
        """
        error: str | None = None
        cm = _manager(self.alias)
        try:
            if keys:
                cm.invalidate(keys, namespace=self.key_namespace, source=self.source)
            for namespace in namespaces:
                cm.invalidate_namespace(namespace, source=self.source)
        except Exception as exc:  # the write is committed; report, do not raise
            error = type(exc).__name__
            logger.error(
                "Invalidation rule %s could not invalidate %s / namespaces %s: %s",
                self.name,
                keys,
                namespaces,
                error,
            )
        self._record_fired(cm, trigger=trigger, keys=keys, namespaces=namespaces, error=error)

    def _record_fired(
        self, cm: CacheManager, *, trigger: str, keys: list[str], namespaces: list[str], error: str | None
    ) -> None:
        record = {
            "at": time.time(),
            "trigger": trigger,
            "keys": len(keys),
            "namespaces": list(namespaces),
            "error": error,
        }
        self.last_fired_local = record
        try:
            caches[cm.alias].set(rule_key(self.name), record, None)
        except Exception as exc:  # the record is informative only
            logger.warning("Could not store last-fired time of rule %s: %s", self.name, type(exc).__name__)

    def last_fired(self) -> dict[str, Any] | None:
        """The most recent firing of this rule in any process (falls back to this process's)."""
        try:
            record = caches[_manager(self.alias).alias].get(rule_key(self.name))
        except Exception:
            record = None
        return record or self.last_fired_local

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly description of the rule (without its firing history)."""
        signals = [
            name
            for name, enabled in (
                ("post_save", self.on_save),
                ("post_delete", self.on_delete),
                ("m2m_changed", self.on_m2m),
            )
            if enabled
        ]
        return {
            "name": self.name,
            "source": self.source,
            "model": self.model_label,
            "alias": self.alias,
            "keys": [_spec_label(spec) for spec in self.keys],
            "key_namespace": self.key_namespace,
            "namespaces": [_spec_label(spec) for spec in self.namespaces],
            "signals": signals,
        }


# --------------------------------------------------------------------------- registry

_lock = threading.RLock()
_rules: list[InvalidationRule] = []
# Receivers connected, by dispatch_uid -> (signal, sender); wiring is idempotent.
_connected: dict[str, tuple[ModelSignal, type[models.Model]]] = {}
# m2m ``pre_clear`` captures the other side's pks here until ``post_clear`` (per thread).
_pending_clears = threading.local()


@overload
def invalidate_on(
    model: None = None,
    *,
    keys: Iterable[KeySpec] = (),
    namespaces: Iterable[KeySpec] = (),
    key_namespace: str | None = None,
    alias: str | None = None,
    name: str | None = None,
    on_save: bool = True,
    on_delete: bool = True,
    on_m2m: bool = True,
) -> Callable[[ModelT], ModelT]: ...


@overload
def invalidate_on(
    model: type[models.Model],
    *,
    keys: Iterable[KeySpec] = (),
    namespaces: Iterable[KeySpec] = (),
    key_namespace: str | None = None,
    alias: str | None = None,
    name: str | None = None,
    on_save: bool = True,
    on_delete: bool = True,
    on_m2m: bool = True,
) -> InvalidationRule: ...


def invalidate_on(
    model: type[models.Model] | None = None,
    *,
    keys: Iterable[KeySpec] = (),
    namespaces: Iterable[KeySpec] = (),
    key_namespace: str | None = None,
    alias: str | None = None,
    name: str | None = None,
    on_save: bool = True,
    on_delete: bool = True,
    on_m2m: bool = True,
) -> InvalidationRule | Callable[[ModelT], ModelT]:
    """Declare that writes to ``model`` invalidate ``keys`` and ``namespaces``.

    :param model: the model class. Omit it to use ``invalidate_on(...)`` as a class decorator.
    :param keys: cache keys to delete; each a string or a callable ``instance -> str | list | None``.
    :param namespaces: namespaces to invalidate as a whole (same forms as ``keys``).
    :param key_namespace: the namespace the ``keys`` live in (``None``: no namespace).
    :param alias: the cache alias; ``None`` means ``CACHE_DASHBOARD["ALIAS"]`` at firing time.
    :param name: the rule's name, shown in the dashboard and used as stats source
        ``"rule:<name>"``; defaults to the model label (``"shop.Producto"``). Registering a rule
        with a name already in use replaces the old rule.
    :param on_save, on_delete, on_m2m: which signals trigger the rule.
    :returns: the registered :class:`InvalidationRule` (or, as a decorator, the model class).
    """
    if isinstance(keys, str):
        raise TypeError("keys must be a list of keys, not a single string")
    if isinstance(namespaces, str):
        raise TypeError("namespaces must be a list of namespaces, not a single string")
    options: dict[str, Any] = {
        "keys": tuple(keys),
        "namespaces": tuple(namespaces),
        "key_namespace": key_namespace,
        "alias": alias,
        "name": name,
        "on_save": on_save,
        "on_delete": on_delete,
        "on_m2m": on_m2m,
    }

    if model is None:

        def decorator(cls: ModelT) -> ModelT:
            _register(cls, **options)
            return cls

        return decorator
    return _register(model, **options)


def _register(model: type[models.Model], *, name: str | None, **options: Any) -> InvalidationRule:
    if not (isinstance(model, type) and issubclass(model, models.Model)):
        raise TypeError(f"invalidate_on() needs a model class, got {model!r}")
    if not options["keys"] and not options["namespaces"]:
        raise ValueError("invalidate_on() needs at least one key or namespace")
    with _lock:
        rule_name = name or model._meta.label
        existing = [r for r in _rules if r.name == rule_name]
        if existing and name is None:
            rule_name = f"{rule_name}#{sum(1 for r in _rules if r.model is model) + 1}"
        for old in existing if name is not None else ():
            _rules.remove(old)
        if existing and name is not None:
            _unwire_unused()
        rule = InvalidationRule(model=model, name=rule_name, **options)
        _rules.append(rule)
        # Before the registry is ready (decorator use) this connects save/delete of the model
        # itself; connect_signals() adds subclasses and m2m relations from AppConfig.ready().
        _wire(rule)
    return rule


def unregister(rule: InvalidationRule) -> None:
    """Remove ``rule`` from the registry and disconnect receivers no other rule needs."""
    with _lock:
        if rule in _rules:
            _rules.remove(rule)
        _unwire_unused()


def get_rules() -> list[InvalidationRule]:
    """All registered rules, in registration order."""
    with _lock:
        return list(_rules)


def connect_signals() -> None:
    """Finish wiring every registered rule: subclasses, proxies and many-to-many relations.

    Call it from ``AppConfig.ready()`` (``cache_dashboard``'s own ``ready()`` does). Idempotent.
    Rules declared once the model registry is ready are wired on the spot; rules declared with
    the decorator (while models are still loading) are finished here.
    """
    with _lock:
        for rule in _rules:
            _wire(rule)


def rules_status() -> list[dict[str, Any]]:
    """Every rule with when it last fired, for the dashboard.

    Each dict has the keys of :meth:`InvalidationRule.describe` plus ``last_fired`` (epoch float
    or ``None``), ``last_trigger`` (``"save"``, ``"delete"``, ``"m2m"``, ``"manual"`` or ``None``),
    ``last_keys`` (how many keys the last firing invalidated) and ``last_error`` (exception class
    name of a failed invalidation, or ``None``). One read per cache alias, whatever the number
    of rules (their records share a hash tag).
    """
    rules = get_rules()
    by_alias: dict[str, list[InvalidationRule]] = {}
    for rule in rules:
        by_alias.setdefault(_manager(rule.alias).alias, []).append(rule)
    records: dict[int, dict[str, Any]] = {}
    for alias, group in by_alias.items():
        # Through the breaker; the cache down (or the circuit open): this process's own records,
        # as last_fired() does.
        found = CacheManager(alias).read_quietly(caches[alias].get_many, [rule_key(rule.name) for rule in group],
                                                 default={})
        for rule in group:
            record = found.get(rule_key(rule.name)) or rule.last_fired_local
            if isinstance(record, dict):
                records[id(rule)] = record
    rows = []
    for rule in rules:
        row = rule.describe()
        record = records.get(id(rule), {})
        row.update(
            last_fired=record.get("at"),
            last_trigger=record.get("trigger"),
            last_keys=record.get("keys"),
            last_error=record.get("error"),
        )
        rows.append(row)
    return rows


def invalidate_for(
    model: type[models.Model],
    instances: Iterable[models.Model] | None = None,
    *,
    using: str | None = None,
) -> int:
    """Run the rules of ``model`` explicitly, for writes that send no signals.

    Use it after ``QuerySet.update()``, ``bulk_create()``, ``bulk_update()`` or raw SQL. Like the
    signal path it waits for the transaction on ``using`` to commit. With ``instances=None`` only
    the rules' fixed keys and namespaces are invalidated (per-instance keys need instances; pass
    a queryset or the list you bulk-created).

    :returns: the number of rules scheduled.
    """
    rules = _rules_for(model)
    if not rules:
        return 0
    items = list(instances) if instances is not None else None
    db = using or router.db_for_write(model)
    for rule in rules:
        rule.schedule(items, using=db, trigger="manual")
    return len(rules)


# --------------------------------------------------------------------------- receivers


def _on_post_save(
    sender: type[models.Model], instance: models.Model, using: str | None = None, **_: Any
) -> None:
    for rule in _rules_for(sender):
        if rule.on_save:
            rule.schedule([instance], using=using, trigger="save")


def _on_post_delete(
    sender: type[models.Model], instance: models.Model, using: str | None = None, **_: Any
) -> None:
    for rule in _rules_for(sender):
        if rule.on_delete:
            rule.schedule([instance], using=using, trigger="delete")


def _on_m2m_changed(
    sender: type[models.Model],
    instance: models.Model,
    action: str,
    model: type[models.Model],
    pk_set: set[Any] | None,
    using: str | None = None,
    **_: Any,
) -> None:
    if action == "pre_clear":
        # The other side's pks are unknown on post_clear; remember them while rows still exist.
        if any(r.on_m2m for r in _rules_for(model)):
            _pending(sender, instance)["pks"] = _related_pks(sender, instance, model, using)
        return
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    if action == "post_clear":
        pk_set = (
            _pending_clears.store.pop((sender, id(instance)), {}).get("pks")
            if hasattr(_pending_clears, "store")
            else None
        )
    for rule in _rules_for(type(instance)):
        if rule.on_m2m:
            rule.schedule([instance], using=using, trigger="m2m")
    other_rules = [r for r in _rules_for(model) if r.on_m2m]
    if other_rules:
        others: list[models.Model] | None = None
        if pk_set:
            others = list(model._base_manager.using(using).filter(pk__in=pk_set))
        elif pk_set is None:
            others = None  # unknown (self-referential clear): fixed keys only
        else:
            others = []
        for rule in other_rules:
            if others is None or others:
                rule.schedule(others, using=using, trigger="m2m")


# --------------------------------------------------------------------------- wiring helpers


Connection = tuple[ModelSignal, Callable[..., None], type[models.Model], str]


def _model_connections(model: type[models.Model]) -> list[Connection]:
    uid = f"cache_dashboard.invalidation:{model._meta.label_lower}"
    return [
        (post_save, _on_post_save, model, uid + ":save"),
        (post_delete, _on_post_delete, model, uid + ":delete"),
    ]


def _through_connection(through: type[models.Model]) -> Connection:
    uid = f"cache_dashboard.invalidation:m2m:{through._meta.label_lower}"
    return (m2m_changed, _on_m2m_changed, through, uid)


def _plan(rule: InvalidationRule) -> list[Connection]:
    """The receivers ``rule`` needs: its model, subclasses/proxies, and their m2m relations.

    Receivers are per sender (never ``sender=None``): a catch-all ``post_delete`` receiver would
    disable Django's fast-delete path for every model in the project. Subclasses and m2m
    relations are only known once the model registry is ready.
    """
    if not apps.models_ready:
        return _model_connections(rule.model)
    targets = [m for m in apps.get_models() if issubclass(m, rule.model)]
    if rule.model not in targets:
        targets.append(rule.model)
    plan: list[Connection] = []
    for model in targets:
        plan += _model_connections(model)
        if not rule.on_m2m:
            continue
        throughs = [f.remote_field.through for f in model._meta.many_to_many]
        throughs += [r.through for r in model._meta.related_objects if r.many_to_many]  # type: ignore[attr-defined]  # ManyToManyRel
        plan += [_through_connection(t) for t in throughs if isinstance(t, type)]
    return plan


def _wire(rule: InvalidationRule) -> None:
    """Connect the receivers ``rule`` needs (idempotent)."""
    for signal, receiver, sender, uid in _plan(rule):
        if uid not in _connected:
            signal.connect(receiver, sender=sender, weak=False, dispatch_uid=uid)
            _connected[uid] = (signal, sender)


def _unwire_unused() -> None:
    """Disconnect receivers no remaining rule needs (so unused models keep fast deletes)."""
    needed = {uid for rule in _rules for *_, uid in _plan(rule)}
    for uid in [uid for uid in _connected if uid not in needed]:
        signal, sender = _connected.pop(uid)
        signal.disconnect(sender=sender, dispatch_uid=uid)


def _rules_for(model: type[models.Model]) -> list[InvalidationRule]:
    with _lock:
        return [rule for rule in _rules if issubclass(model, rule.model)]


def _pending(sender: type[models.Model], instance: models.Model) -> dict[str, Any]:
    store: dict[tuple[type[models.Model], int], dict[str, Any]] | None = getattr(_pending_clears, "store", None)
    if store is None:
        store = _pending_clears.store = {}
    return store.setdefault((sender, id(instance)), {})


def _related_pks(
    through: type[models.Model], instance: models.Model, model: type[models.Model], using: str | None
) -> set[Any] | None:
    """The pks of ``model`` linked to ``instance`` through ``through``, or None if ambiguous."""
    fks = [(f, f.related_model) for f in through._meta.fields if f.is_relation and isinstance(f.related_model, type)]
    own = [f for f, related in fks if isinstance(instance, related)]
    other = [f for f, related in fks if issubclass(model, related)]
    if len(own) != 1 or len(other) != 1 or own[0] is other[0]:
        return None  # self-referential relation: which column is which is ambiguous
    rows = through._base_manager.using(using).filter(**{own[0].name: instance.pk})
    return set(rows.values_list(other[0].attname, flat=True))


def _expand(specs: tuple[KeySpec, ...], instances: list[models.Model] | None) -> list[str]:
    seen: dict[str, None] = {}
    for spec in specs:
        if isinstance(spec, str):
            seen.setdefault(spec, None)
            continue
        for instance in instances or ():
            value = spec(instance)
            if value is None:
                continue
            for item in [value] if isinstance(value, str) else value:
                seen.setdefault(str(item), None)
    return list(seen)


def _spec_label(spec: KeySpec) -> str:
    if isinstance(spec, str):
        return spec
    name = getattr(spec, "__name__", type(spec).__name__)
    return "<per instance>" if name == "<lambda>" else f"<{name}>"


def _manager(alias: str | None) -> CacheManager:
    return cache_manager if alias is None else CacheManager(alias=alias)
