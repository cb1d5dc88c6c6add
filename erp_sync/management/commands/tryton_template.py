"""`manage.py tryton_template [--force]`: build the Tryton template database once per machine."""

from django.core.management.base import BaseCommand, CommandError

from erp_sync.tryton_setup.template import (
    template_ensure,
    tryton_settings,
    tryton_unavailable_reason,
)


class Command(BaseCommand):
    help = (
        "Build the PostgreSQL template database for the real Tryton ERP (company, chart of "
        "accounts, fiscal years 2025-2027, taxes, payment method) unless a complete one exists, "
        "and write the account codes to var/tryton/accounts.json. See docs/tryton.md."
    )

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="rebuild even if it exists")

    def handle(self, *args, force=False, **options):
        settings = tryton_settings()
        reason = tryton_unavailable_reason(settings)
        if reason:
            raise CommandError(reason)
        try:
            info = template_ensure(force=force, settings=settings, log=self.stdout.write)
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
        verb = "built" if info.built else "already complete"
        self.stdout.write(
            self.style.SUCCESS(f"{info.name}: {verb} ({info.seconds:.1f} s)")
            + f"\n{len(info.description['accounts'])} account codes -> {info.accounts_file}"
        )
