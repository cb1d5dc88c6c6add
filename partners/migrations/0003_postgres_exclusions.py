"""On PostgreSQL, overlapping date ranges are refused by the database too.

- one subscription (or customer) has at most one attribution per role on any day;
- one partner has at most one active agreement version on any day.
The services check the same under a row lock and name the clash; these constraints are the
backstop for a writer that bypasses them. SQLite has no exclusion constraints: there the
service checks alone apply.
"""

from django.db import migrations

_CONSTRAINTS = [
    (
        "partners_attribution",
        "partners_attribution_no_overlap_subscription",
        "subscription_id WITH =, role WITH =, daterange(valid_from, valid_to, '[)') WITH &&",
        "subscription_id IS NOT NULL",
    ),
    (
        "partners_attribution",
        "partners_attribution_no_overlap_customer",
        "customer_id WITH =, role WITH =, daterange(valid_from, valid_to, '[)') WITH &&",
        "customer_id IS NOT NULL",
    ),
    (
        "partners_agreement",
        "partners_agreement_no_overlap_active",
        "partner_id WITH =, daterange(effective_from, effective_to, '[)') WITH &&",
        "state = 'active'",
    ),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    for table, name, expression, where in _CONSTRAINTS:
        schema_editor.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {name} "
            f"EXCLUDE USING gist ({expression}) WHERE ({where})"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, name, _, _ in _CONSTRAINTS:
        schema_editor.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("partners", "0002_agreements_accruals_settlements")]

    operations = [migrations.RunPython(create, drop)]
