"""`python manage.py seed_recon_demo`: the reconciliation part of the demo (after
`seed_partners_demo`): the sandbox ERPs altered on purpose and last month's runs completed
(see reconciliation/demo.py). Idempotent."""

from django.core.management.base import BaseCommand

from billing.demo.setup import demo_anchor
from reconciliation.demo import demo_reconciliation_seed


class Command(BaseCommand):
    help = "Alter the demo's sandbox ERPs and run last month's reconciliations (idempotent)."

    def handle(self, *args, **options):
        for line in demo_reconciliation_seed(today=demo_anchor()):
            self.stdout.write(f"seed_recon_demo: {line}")
