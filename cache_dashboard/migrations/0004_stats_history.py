"""The statistics history: closed hours rolled up from the cache server, one row per alias,
namespace and hour (written once: the unique constraint)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('cache_dashboard', '0003_ttl_versions_and_previous_seconds'),
    ]

    operations = [
        migrations.CreateModel(
            name='StatsHour',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('alias', models.CharField(max_length=100, verbose_name='cache alias')),
                ('namespace', models.CharField(blank=True, max_length=64, verbose_name='namespace')),
                ('name', models.TextField(blank=True, verbose_name='name')),
                ('hour', models.BigIntegerField(help_text='Start of the hour, in seconds since 1970 (UTC).', verbose_name='hour')),
                ('hits', models.BigIntegerField(default=0, verbose_name='hits')),
                ('misses', models.BigIntegerField(default=0, verbose_name='misses')),
                ('sets', models.BigIntegerField(default=0, verbose_name='sets')),
                ('invalidations', models.BigIntegerField(default=0, verbose_name='invalidations')),
                ('errors', models.BigIntegerField(default=0, verbose_name='errors')),
                ('stale', models.BigIntegerField(default=0, verbose_name='stale values served')),
                ('fetches', models.BigIntegerField(default=0, verbose_name='fetches')),
                ('fetch_us', models.BigIntegerField(default=0, verbose_name='fetch time (µs)')),
                ('fetch_max_us', models.BigIntegerField(default=0, verbose_name='longest fetch (µs)')),
                ('sources', models.JSONField(blank=True, default=dict, verbose_name='invalidations by source')),
            ],
            options={
                'verbose_name': 'statistics hour',
                'verbose_name_plural': 'statistics history',
                'default_permissions': (),
                'indexes': [models.Index(fields=['alias', 'hour'], name='cd_statshour_span')],
                'constraints': [models.UniqueConstraint(fields=('alias', 'namespace', 'hour'), name='cd_statshour_once')],
            },
        ),
    ]
