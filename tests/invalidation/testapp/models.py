"""Models for the invalidation tests. ``Note`` declares its rule with the class decorator."""

from django.db import models

from cache_dashboard.invalidation import invalidate_on


class Tag(models.Model):
    name = models.CharField(max_length=50)

    def __str__(self) -> str:
        return self.name


class Article(models.Model):
    title = models.CharField(max_length=100)
    tags = models.ManyToManyField(Tag, related_name="articles", blank=True)

    def __str__(self) -> str:
        return self.title


class FeaturedArticle(Article):
    """Multi-table child: saving it must trigger the rules declared for Article."""

    rank = models.PositiveIntegerField(default=0)


class Other(models.Model):
    """No rule by default: its signals must stay free of our receivers (fast deletes keep working)."""

    name = models.CharField(max_length=50)

    def __str__(self) -> str:
        return self.name


@invalidate_on(keys=["notes_index", lambda note: f"note_{note.pk}"], name="testapp.Note")
class Note(models.Model):
    text = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.text
