"""Audit rows of TTL changes keep the TTL in ``seconds``; ``count`` is only ever "keys affected"."""

from django.db import migrations, models


def move_ttl_seconds(apps, schema_editor):  # type: ignore[no-untyped-def]
    entry = apps.get_model("cache_dashboard", "CacheAuditEntry")
    entry.objects.filter(action="ttl_change").update(seconds=models.F("count"), count=None)


def move_back(apps, schema_editor):  # type: ignore[no-untyped-def]
    entry = apps.get_model("cache_dashboard", "CacheAuditEntry")
    entry.objects.filter(action="ttl_change").update(count=models.F("seconds"))


class Migration(migrations.Migration):

    dependencies = [
        ("cache_dashboard", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="cacheauditentry",
            name="seconds",
            field=models.IntegerField(blank=True, help_text="The TTL set by a TTL change.", null=True,
                                      verbose_name="TTL seconds"),
        ),
        migrations.RunPython(move_ttl_seconds, move_back),
    ]
