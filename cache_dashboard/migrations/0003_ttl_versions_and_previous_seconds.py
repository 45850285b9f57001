"""TTL overrides get a version (the TTL page's optimistic check); audit rows of TTL changes keep the
previous TTL in ``previous_seconds``, read back from their ``detail`` ("600 -> 300", "- -> 300",
"600 -> default") for existing rows."""

from django.db import migrations, models

TTL_ACTIONS = ("ttl_change", "ttl_reset")


def previous_from_detail(apps, schema_editor):  # type: ignore[no-untyped-def]
    entry = apps.get_model("cache_dashboard", "CacheAuditEntry")
    for row in entry.objects.filter(action__in=TTL_ACTIONS).only("pk", "detail").iterator():
        before = row.detail.split(" -> ", 1)[0].strip()
        if before.isdigit():
            entry.objects.filter(pk=row.pk).update(previous_seconds=int(before))


class Migration(migrations.Migration):

    dependencies = [
        ("cache_dashboard", "0002_cacheauditentry_seconds"),
    ]

    operations = [
        migrations.AddField(
            model_name="cacheauditentry",
            name="previous_seconds",
            field=models.IntegerField(blank=True, help_text="The override a TTL change replaced or removed (empty: none).",
                                      null=True, verbose_name="previous TTL seconds"),
        ),
        migrations.AddField(
            model_name="ttloverride",
            name="version",
            field=models.PositiveIntegerField(default=1, editable=False, verbose_name="version"),
        ),
        migrations.RunPython(previous_from_detail, migrations.RunPython.noop),
    ]
