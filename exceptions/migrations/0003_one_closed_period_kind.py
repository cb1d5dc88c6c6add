"""One vocabulary of case kinds: erp_sync's `period_closed` cases become `closed_period`
(billing's name, and erp_sync's hold reason). History rows keep what they recorded."""

from django.db import migrations


def forwards(apps, schema_editor):
    Case = apps.get_model("exceptions", "Case")
    Case.objects.filter(kind="period_closed").update(kind="closed_period")


def backwards(apps, schema_editor):
    # Only erp_sync's cases (on sync jobs, or grouped by cause) had the old name.
    Case = apps.get_model("exceptions", "Case")
    Case.objects.filter(kind="closed_period").exclude(
        subject_type__app_label="billing"
    ).update(kind="period_closed")


class Migration(migrations.Migration):
    dependencies = [("exceptions", "0002_cases_grouped_by_cause_and_ownership")]

    operations = [migrations.RunPython(forwards, backwards)]
