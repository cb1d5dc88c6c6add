"""Refuse UPDATE and DELETE on history tables and security events (PostgreSQL).

Covers the tables that exist when this runs; config.accounts.append_only's post_migrate
receiver covers history tables of apps migrated later and any added in future.
"""

from django.db import migrations


def install(apps, schema_editor):
    from config.accounts.append_only import install_append_only_triggers

    install_append_only_triggers(apps=apps, using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_security_event")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
