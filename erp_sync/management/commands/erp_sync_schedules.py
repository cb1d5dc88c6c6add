"""Create erp_sync's missing Celery beat rows (also done after every migrate); --reset puts
the defaults back on rows a person edited."""

from django.core.management.base import BaseCommand

from erp_sync.schedules import ensure_schedules


class Command(BaseCommand):
    help = (
        "Create the periodic tasks of erp_sync that are missing (the sweeper, every 30 s); "
        "--reset also restores the defaults of existing ones."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset", action="store_true", help="restore the default schedule of existing rows"
        )

    def handle(self, *args, **options):
        changed = ensure_schedules(reset=options["reset"])
        verb = "reset" if options["reset"] else "created"
        for name in changed:
            self.stdout.write(f"{name}: {verb}")
        if not changed:
            self.stdout.write("schedules present; left as they are")
