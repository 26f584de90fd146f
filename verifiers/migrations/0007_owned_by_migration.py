"""Every configured row and every verdict belongs to a migration (the programme's unit).

An existing single-migration console becomes one migration, "default", holding everything it had:
the foreign keys are added empty, filled, then made required. Nothing is deleted or rewritten.
"""

import django.db.models.deletion
from django.db import migrations, models

import console.models

OWNED_MODELS = ('ledgersource', 'mismatchgroup', 'noisesuggestion', 'outcomecount', 'route', 'system', 'verifieddatabase', 'verifiedsample', 'writetablerule')


def file_under_one_migration(apps, schema_editor):
    owned = [apps.get_model("verifiers", name) for name in OWNED_MODELS]
    if not any(model.objects.exists() for model in owned):
        return  # a new console: its first migration is created when it is configured
    migration_model = apps.get_model("console", "Migration")
    default, _ = migration_model.objects.get_or_create(slug="default", defaults={"name": "Default migration"})
    for model in owned:
        model.objects.filter(migration__isnull=True).update(migration=default)


class Migration(migrations.Migration):

    dependencies = [
        ('console', '0003_migration'),
        ('django_celery_beat', '0019_alter_periodictasks_options'),
        ('verifiers', '0006_read_groups_per_cause'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='mismatchgroup',
            name='group_kind_fingerprint_unique',
        ),
        migrations.RemoveConstraint(
            model_name='noisesuggestion',
            name='noise_subject_pattern_unique',
        ),
        migrations.RemoveConstraint(
            model_name='outcomecount',
            name='outcome_kind_subject_minute_unique',
        ),
        migrations.RemoveConstraint(
            model_name='route',
            name='route_method_template_unique',
        ),
        migrations.RemoveConstraint(
            model_name='verifiedsample',
            name='verified_kind_id_unique',
        ),
        migrations.AddField(
            model_name='ledgersource',
            name='migration',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='ledger_sources', to='console.migration'),
        ),
        migrations.AddField(
            model_name='mismatchgroup',
            name='migration',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='mismatch_groups', to='console.migration'),
        ),
        migrations.AddField(
            model_name='noisesuggestion',
            name='migration',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='noise_suggestions', to='console.migration'),
        ),
        migrations.AddField(
            model_name='outcomecount',
            name='migration',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='outcome_counts', to='console.migration'),
        ),
        migrations.AddField(
            model_name='route',
            name='migration',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='routes', to='console.migration'),
        ),
        migrations.AddField(
            model_name='system',
            name='migration',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='systems', to='console.migration'),
        ),
        migrations.AddField(
            model_name='verifieddatabase',
            name='migration',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='verified_databases', to='console.migration'),
        ),
        migrations.AddField(
            model_name='verifiedsample',
            name='migration',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='verified_samples', to='console.migration'),
        ),
        migrations.AddField(
            model_name='writetablerule',
            name='migration',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='write_tables', to='console.migration'),
        ),
        migrations.RunPython(file_under_one_migration, migrations.RunPython.noop),
        # The default is Python-side only (state); the database just makes the column required,
        # so migrating never runs today's model code against yesterday's schema.
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.AlterField(
                model_name='ledgersource', name='migration',
                field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='ledger_sources', to='console.migration'),
            )],
            state_operations=[migrations.AlterField(
                model_name='ledgersource', name='migration',
                field=models.ForeignKey(default=console.models.sole_migration_pk, on_delete=django.db.models.deletion.CASCADE, related_name='ledger_sources', to='console.migration'),
            )],
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.AlterField(
                model_name='mismatchgroup', name='migration',
                field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='mismatch_groups', to='console.migration'),
            )],
            state_operations=[migrations.AlterField(
                model_name='mismatchgroup', name='migration',
                field=models.ForeignKey(default=console.models.sole_migration_pk, on_delete=django.db.models.deletion.CASCADE, related_name='mismatch_groups', to='console.migration'),
            )],
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.AlterField(
                model_name='noisesuggestion', name='migration',
                field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='noise_suggestions', to='console.migration'),
            )],
            state_operations=[migrations.AlterField(
                model_name='noisesuggestion', name='migration',
                field=models.ForeignKey(default=console.models.sole_migration_pk, on_delete=django.db.models.deletion.CASCADE, related_name='noise_suggestions', to='console.migration'),
            )],
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.AlterField(
                model_name='outcomecount', name='migration',
                field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='outcome_counts', to='console.migration'),
            )],
            state_operations=[migrations.AlterField(
                model_name='outcomecount', name='migration',
                field=models.ForeignKey(default=console.models.sole_migration_pk, on_delete=django.db.models.deletion.CASCADE, related_name='outcome_counts', to='console.migration'),
            )],
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.AlterField(
                model_name='route', name='migration',
                field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='routes', to='console.migration'),
            )],
            state_operations=[migrations.AlterField(
                model_name='route', name='migration',
                field=models.ForeignKey(default=console.models.sole_migration_pk, on_delete=django.db.models.deletion.CASCADE, related_name='routes', to='console.migration'),
            )],
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.AlterField(
                model_name='system', name='migration',
                field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='systems', to='console.migration'),
            )],
            state_operations=[migrations.AlterField(
                model_name='system', name='migration',
                field=models.ForeignKey(default=console.models.sole_migration_pk, on_delete=django.db.models.deletion.CASCADE, related_name='systems', to='console.migration'),
            )],
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.AlterField(
                model_name='verifieddatabase', name='migration',
                field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='verified_databases', to='console.migration'),
            )],
            state_operations=[migrations.AlterField(
                model_name='verifieddatabase', name='migration',
                field=models.ForeignKey(default=console.models.sole_migration_pk, on_delete=django.db.models.deletion.CASCADE, related_name='verified_databases', to='console.migration'),
            )],
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.AlterField(
                model_name='verifiedsample', name='migration',
                field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='verified_samples', to='console.migration'),
            )],
            state_operations=[migrations.AlterField(
                model_name='verifiedsample', name='migration',
                field=models.ForeignKey(default=console.models.sole_migration_pk, on_delete=django.db.models.deletion.CASCADE, related_name='verified_samples', to='console.migration'),
            )],
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.AlterField(
                model_name='writetablerule', name='migration',
                field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='write_tables', to='console.migration'),
            )],
            state_operations=[migrations.AlterField(
                model_name='writetablerule', name='migration',
                field=models.ForeignKey(default=console.models.sole_migration_pk, on_delete=django.db.models.deletion.CASCADE, related_name='write_tables', to='console.migration'),
            )],
        ),
        migrations.AlterField(
            model_name='ledgersource',
            name='name',
            field=models.CharField(max_length=100),
        ),
        migrations.AlterField(
            model_name='system',
            name='name',
            field=models.CharField(max_length=100),
        ),
        migrations.AlterField(
            model_name='verifieddatabase',
            name='name',
            field=models.CharField(max_length=100),
        ),
        migrations.AlterField(
            model_name='writetablerule',
            name='table',
            field=models.CharField(max_length=200),
        ),
        migrations.AddConstraint(
            model_name='ledgersource',
            constraint=models.UniqueConstraint(fields=('migration', 'name'), name='ledger_source_migration_name_unique'),
        ),
        migrations.AddConstraint(
            model_name='mismatchgroup',
            constraint=models.UniqueConstraint(fields=('migration', 'kind', 'fingerprint'), name='group_migration_kind_fingerprint_unique'),
        ),
        migrations.AddConstraint(
            model_name='noisesuggestion',
            constraint=models.UniqueConstraint(fields=('migration', 'subject', 'pattern'), name='noise_migration_subject_pattern_unique'),
        ),
        migrations.AddConstraint(
            model_name='outcomecount',
            constraint=models.UniqueConstraint(fields=('migration', 'kind', 'subject', 'minute'), name='outcome_migration_kind_subject_minute'),
        ),
        migrations.AddConstraint(
            model_name='route',
            constraint=models.UniqueConstraint(fields=('migration', 'method', 'template'), name='route_migration_method_template'),
        ),
        migrations.AddConstraint(
            model_name='system',
            constraint=models.UniqueConstraint(fields=('migration', 'name'), name='system_migration_name_unique'),
        ),
        migrations.AddConstraint(
            model_name='verifieddatabase',
            constraint=models.UniqueConstraint(fields=('migration', 'name'), name='verified_database_migration_name_unique'),
        ),
        migrations.AddConstraint(
            model_name='verifiedsample',
            constraint=models.UniqueConstraint(fields=('migration', 'kind', 'sample_id'), name='verified_migration_kind_id_unique'),
        ),
        migrations.AddConstraint(
            model_name='writetablerule',
            constraint=models.UniqueConstraint(fields=('migration', 'table'), name='write_table_migration_unique'),
        ),
    ]
