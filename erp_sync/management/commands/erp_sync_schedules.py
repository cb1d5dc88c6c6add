"""Create or correct erp_sync's Celery beat rows (also done after every migrate)."""

from django.core.management.base import BaseCommand

from erp_sync.schedules import SWEEP_EVERY_SECONDS, SWEEP_NAME, ensure_schedules


class Command(BaseCommand):
    help = "Create or correct the periodic tasks of erp_sync (the sweeper, every 30 s)."

    def handle(self, *args, **options):
        ensure_schedules()
        self.stdout.write(f"{SWEEP_NAME}: every {SWEEP_EVERY_SECONDS}s")
