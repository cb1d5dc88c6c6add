"""Run one sweeper pass now (what beat runs every 30 s)."""

from django.core.management.base import BaseCommand

from erp_sync.actors import system_actor
from erp_sync.services.sweeper import sync_sweep


class Command(BaseCommand):
    help = "Run one pass of the erp_sync sweeper and print what it did."

    def handle(self, *args, **options):
        counts = sync_sweep(actor=system_actor())
        self.stdout.write(" ".join(f"{name}={count}" for name, count in counts.items()))
