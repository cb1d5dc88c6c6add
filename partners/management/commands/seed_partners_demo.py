"""`python manage.py seed_partners_demo`: the partner part of the demo (after `seed_demo`).

Agreements of every rule kind, accruals and settlements in every state, and the second
channel manager `channel2` (see partners/demo.py). Deterministic and idempotent.
"""

from django.core.management.base import BaseCommand

from billing.demo.data import LOGIN_URL, PASSWORD
from billing.demo.setup import demo_anchor
from partners.demo import SECOND_APPROVER, demo_partners_seed


class Command(BaseCommand):
    help = "Seed the demo's partner agreements, accruals and settlements (idempotent)."

    def handle(self, *args, **options):
        for line in demo_partners_seed(today=demo_anchor()):
            self.stdout.write(f"seed_partners_demo: {line}")
        rows = [
            f"Concord demo: {LOGIN_URL}   password: {PASSWORD}",
            f"user: {SECOND_APPROVER:<9} channel_manager    approves what `channel` submitted",
        ]
        width = max(len(row) for row in rows) + 2
        self.stdout.write("  +" + "-" * width + "+")
        for row in rows:
            self.stdout.write(f"  | {row:<{width - 1}}|")
        self.stdout.write("  +" + "-" * width + "+")
