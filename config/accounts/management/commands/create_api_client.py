from django.core.management.base import BaseCommand, CommandError

from config.accounts.models import API_SCOPES
from config.accounts.services import api_client_create
from config.errors import DomainError


class Command(BaseCommand):
    help = "Create an API client; prints its bearer token once (only a hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument(
            "--scopes",
            required=True,
            help=f"comma-separated, of: {', '.join(sorted(API_SCOPES))}",
        )
        parser.add_argument(
            "--sources",
            default="",
            help='comma-separated event sources it may ingest and replay, "*" for all '
            "(required with events:write)",
        )
        parser.add_argument("--rate", default="", help='throttle rate, e.g. "600/min"')

    def handle(self, *args, name, scopes, sources, rate, **options):
        wanted = [s.strip() for s in scopes.split(",") if s.strip()]
        allowed = [s.strip() for s in sources.split(",") if s.strip()]
        if "events:write" in wanted and not allowed:
            raise CommandError('events:write needs --sources (e.g. billing-platform,crm or "*")')
        try:
            client, token = api_client_create(
                name=name, scopes=wanted, sources=allowed, throttle_rate=rate
            )
        except DomainError as error:
            raise CommandError(error.message) from error
        self.stdout.write(
            f"API client {client.name!r} scopes={','.join(client.scopes)} "
            f"sources={','.join(client.sources) or '(none)'}"
        )
        self.stdout.write("Token (shown once; send as 'Authorization: Bearer <token>'):")
        self.stdout.write(token)
