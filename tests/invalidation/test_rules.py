"""Declarative invalidation: what fires, when (after commit only), and what the dashboard sees."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from cache_dashboard import CacheManager, CacheUnavailable
from cache_dashboard.invalidation import (
    InvalidationRule,
    get_rules,
    invalidate_for,
    invalidate_on,
    rules_status,
    unregister,
)
from tests.invalidation.conftest import join_purges
from tests.invalidation.testapp.models import Article, FeaturedArticle, Note, Other, Tag


@pytest.fixture
def cm(alias: str) -> CacheManager:
    return CacheManager(alias)


@pytest.fixture
def rule(alias: str) -> Iterator[InvalidationRule]:
    declared = invalidate_on(
        Article,
        keys=["articles_index", lambda a: f"article_{a.pk}"],
        namespaces=["article_lists"],
        alias=alias,
        name="testapp.Article",
    )
    yield declared
    unregister(declared)


def fill(cm: CacheManager, *keys: str) -> None:
    join_purges()  # a purge started by an earlier write must not eat what we write now
    for key in keys:
        cm.set(key, "cached", 300)
    cm.set("page_1", "cached", 300, namespace="article_lists")


def cached(cm: CacheManager, key: str, namespace: str | None = None) -> bool:
    return cm.get(key, namespace=namespace) is not None


# --------------------------------------------------------------------------- what fires


@pytest.mark.django_db
def test_save_invalidates_fixed_and_per_instance_keys_and_namespaces(
    cm, rule, django_capture_on_commit_callbacks
):
    article = Article.objects.create(title="a")
    other = Article.objects.create(title="b")
    fill(cm, "articles_index", f"article_{article.pk}", f"article_{other.pk}", "unrelated")

    with django_capture_on_commit_callbacks(execute=True):
        article.title = "changed"
        article.save()

    assert not cached(cm, "articles_index")
    assert not cached(cm, f"article_{article.pk}")
    assert not cached(cm, "page_1", "article_lists")
    assert cached(cm, f"article_{other.pk}")  # only the saved instance's key
    assert cached(cm, "unrelated")


@pytest.mark.django_db
def test_delete_uses_the_pk_the_row_had(cm, rule, django_capture_on_commit_callbacks):
    article = Article.objects.create(title="a")
    pk = article.pk
    fill(cm, "articles_index", f"article_{pk}")

    with django_capture_on_commit_callbacks(execute=True):
        article.delete()

    assert article.pk is None
    assert not cached(cm, f"article_{pk}")
    assert not cached(cm, "articles_index")


@pytest.mark.django_db
def test_m2m_changes_from_either_side(cm, rule, django_capture_on_commit_callbacks):
    article = Article.objects.create(title="a")
    tag = Tag.objects.create(name="t")

    for change in (
        lambda: article.tags.add(tag),  # forward add
        lambda: article.tags.remove(tag),  # forward remove
        lambda: tag.articles.add(article),  # reverse add: the article is in pk_set
        lambda: tag.articles.clear(),  # reverse clear: pks captured before the rows go
    ):
        fill(cm, f"article_{article.pk}")
        with django_capture_on_commit_callbacks(execute=True):
            change()
        assert not cached(cm, f"article_{article.pk}")


@pytest.mark.django_db
def test_subclass_save_triggers_parent_rule(cm, rule, django_capture_on_commit_callbacks):
    fill(cm, "articles_index")
    with django_capture_on_commit_callbacks(execute=True):
        FeaturedArticle.objects.create(title="f", rank=1)
    assert not cached(cm, "articles_index")


@pytest.mark.django_db
def test_decorator_form_registers_a_rule(django_capture_on_commit_callbacks):
    cm = CacheManager("default")
    note = Note.objects.create(text="x")
    cm.set("notes_index", 1, 300)
    cm.set(f"note_{note.pk}", 1, 300)

    with django_capture_on_commit_callbacks(execute=True):
        note.save()

    assert any(r.name == "testapp.Note" for r in get_rules())
    assert cm.get("notes_index") is None
    assert cm.get(f"note_{note.pk}") is None


@pytest.mark.django_db
def test_rule_flags_select_signals(cm, alias, django_capture_on_commit_callbacks):
    only_delete = invalidate_on(Other, keys=["others"], alias=alias, on_save=False)
    try:
        obj = Other.objects.create(name="o")
        cm.set("others", 1, 300)
        with django_capture_on_commit_callbacks(execute=True):
            obj.save()
        assert cm.get("others") == 1
        with django_capture_on_commit_callbacks(execute=True):
            obj.delete()
        assert cm.get("others") is None
    finally:
        unregister(only_delete)


def test_receivers_are_per_sender(rule):
    # A catch-all post_delete receiver would disable fast deletes for every model.
    assert post_save.has_listeners(Article)
    assert post_delete.has_listeners(FeaturedArticle)
    assert not post_delete.has_listeners(Tag)


def test_unregister_disconnects_unused_receivers():
    declared = invalidate_on(Other, keys=["others"])
    assert post_delete.has_listeners(Other)
    unregister(declared)
    assert not post_delete.has_listeners(Other)
    assert not post_save.has_listeners(Other)


# --------------------------------------------------------------------------- when it fires


@pytest.mark.django_db(transaction=True)
def test_nothing_is_invalidated_before_commit(cm, rule):
    article = Article.objects.create(title="a")
    fill(cm, "articles_index", f"article_{article.pk}")

    with transaction.atomic():
        article.title = "changed"
        article.save()
        # A reader inside the window must not find the key gone (and re-cache the old row).
        assert cached(cm, "articles_index")
        assert cached(cm, f"article_{article.pk}")

    assert not cached(cm, "articles_index")
    assert not cached(cm, f"article_{article.pk}")


@pytest.mark.django_db(transaction=True)
def test_rolled_back_write_invalidates_nothing(cm, rule):
    article = Article.objects.create(title="a")
    fill(cm, "articles_index", f"article_{article.pk}")

    with pytest.raises(RuntimeError), transaction.atomic():
        article.title = "changed"
        article.save()
        raise RuntimeError("roll back")

    assert cached(cm, "articles_index")
    assert cached(cm, f"article_{article.pk}")
    assert cached(cm, "page_1", "article_lists")
    assert Article.objects.get(pk=article.pk).title == "a"


@pytest.mark.django_db(transaction=True)
def test_rolled_back_savepoint_drops_only_its_invalidations(cm, rule):
    kept = Article.objects.create(title="kept")
    undone = Article.objects.create(title="undone")
    fill(cm, f"article_{kept.pk}", f"article_{undone.pk}")

    with transaction.atomic():
        kept.save()
        try:
            with transaction.atomic():
                undone.save()
                raise RuntimeError("roll back the savepoint")
        except RuntimeError:
            pass

    assert not cached(cm, f"article_{kept.pk}")
    assert cached(cm, f"article_{undone.pk}")


@pytest.mark.django_db(transaction=True)
def test_autocommit_write_invalidates_at_once(cm, rule):
    fill(cm, "articles_index")
    Article.objects.create(title="a")
    assert not cached(cm, "articles_index")


# --------------------------------------------------------------------------- writes without signals


@pytest.mark.django_db
def test_update_and_bulk_create_need_invalidate_for(cm, rule, django_capture_on_commit_callbacks):
    article = Article.objects.create(title="a")
    fill(cm, "articles_index", f"article_{article.pk}")

    with django_capture_on_commit_callbacks(execute=True):
        Article.objects.filter(pk=article.pk).update(title="b")  # sends no signal
    assert cached(cm, "articles_index")

    with django_capture_on_commit_callbacks(execute=True):
        assert invalidate_for(Article, Article.objects.filter(pk=article.pk)) == 1
    assert not cached(cm, "articles_index")
    assert not cached(cm, f"article_{article.pk}")

    created = Article.objects.bulk_create([Article(title="c"), Article(title="d")])
    fill(cm, "articles_index", *(f"article_{a.pk}" for a in created))
    with django_capture_on_commit_callbacks(execute=True):
        invalidate_for(Article, created)
    assert not any(cached(cm, f"article_{a.pk}") for a in created)


@pytest.mark.django_db
def test_invalidate_for_without_instances_does_fixed_keys(cm, rule, django_capture_on_commit_callbacks):
    article = Article.objects.create(title="a")
    fill(cm, "articles_index", f"article_{article.pk}")
    with django_capture_on_commit_callbacks(execute=True):
        invalidate_for(Article)
    assert not cached(cm, "articles_index")
    assert not cached(cm, "page_1", "article_lists")
    assert cached(cm, f"article_{article.pk}")
    assert invalidate_for(Other) == 0


# --------------------------------------------------------------------------- what the dashboard sees


@pytest.mark.django_db
def test_invalidations_are_counted_by_rule_source(cm, rule, django_capture_on_commit_callbacks):
    article = Article.objects.create(title="a")
    fill(cm, "articles_index", f"article_{article.pk}")
    with django_capture_on_commit_callbacks(execute=True):
        article.save()
    stats = cm.get_stats()
    assert stats["sources"].get("rule:testapp.Article", 0) >= 2
    assert stats["totals"]["invalidations"] >= 2


@pytest.mark.django_db
def test_rules_status_reports_last_fired_from_the_cache(rule, django_capture_on_commit_callbacks):
    row = next(r for r in rules_status() if r["name"] == "testapp.Article")
    assert row["last_fired"] is None
    assert row["model"] == "invalidation_testapp.Article"
    assert row["source"] == "rule:testapp.Article"
    assert row["keys"] == ["articles_index", "<per instance>"]
    assert row["namespaces"] == ["article_lists"]
    assert row["signals"] == ["post_save", "post_delete", "m2m_changed"]

    with django_capture_on_commit_callbacks(execute=True):
        Article.objects.create(title="a")
    rule.last_fired_local = None  # what another process sees: only the shared record

    row = next(r for r in rules_status() if r["name"] == "testapp.Article")
    assert row["last_fired"] is not None
    assert row["last_trigger"] == "save"
    assert row["last_keys"] == 2
    assert row["last_error"] is None


@pytest.mark.django_db
def test_cache_failure_is_logged_not_raised(
    cm, rule, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    def down(*args: object, **kwargs: object) -> int:
        raise CacheUnavailable("invalidate failed: ConnectionError")

    monkeypatch.setattr(CacheManager, "invalidate", down)
    with django_capture_on_commit_callbacks(execute=True):
        Article.objects.create(title="a")  # the committed write must not fail
    assert "testapp.Article" in caplog.text
    assert rule.last_fired_local is not None
    assert rule.last_fired_local["error"] == "CacheUnavailable"


# --------------------------------------------------------------------------- declaring rules


def test_invalid_declarations_are_rejected():
    with pytest.raises(TypeError):
        invalidate_on(Other, keys="a_single_string")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        invalidate_on(Other)
    with pytest.raises(TypeError):
        invalidate_on(object, keys=["k"])  # type: ignore[arg-type]


def test_same_name_replaces_default_names_get_a_suffix():
    first = invalidate_on(Other, keys=["a"], name="testapp.Other.x")
    second = invalidate_on(Other, keys=["b"], name="testapp.Other.x")
    auto1 = invalidate_on(Other, keys=["c"])
    auto2 = invalidate_on(Other, keys=["d"])
    try:
        names = [r.name for r in get_rules()]
        assert names.count("testapp.Other.x") == 1 and first not in get_rules()
        assert auto1.name == "invalidation_testapp.Other"
        assert auto2.name.startswith("invalidation_testapp.Other#")
    finally:
        for declared in (second, auto1, auto2):
            unregister(declared)
