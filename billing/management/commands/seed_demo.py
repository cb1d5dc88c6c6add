"""`python manage.py seed_demo`: a realistic demo company, built through the public ingestion.

The company is data (billing/demo/company.toml) and small generators (billing/demo/); this
command runs the stages in order and prints a line per stage with its counts:

1. reference data: the legal entities (no event type carries them);
2. the company's events, generated from `random.Random(42)` and a date anchor fixed on the
   first run (read back from the first stored demo event afterwards), sent through
   `events_ingest_batch` in time order;
3. DE01's books closed through the end of the month before last;
4. the problems a person must look at (events the books cannot take: quarantined, with cases);
5. one demo user per role.

Deterministic and idempotent: a second run answers every event as a duplicate (200) and
creates nothing twice.
"""

import random
import time
from collections import Counter

from django.core.management.base import BaseCommand

from billing.demo.company import DemoCompany, closed_through_for
from billing.demo.data import DEMO_USERS, LOGIN_URL, PASSWORD, SEED
from billing.demo.setup import (
    demo_anchor,
    demo_books_close,
    demo_entities_ensure,
    demo_events_send,
    demo_loader_get_or_create,
    demo_people_ensure,
)


def outcome_text(counts: Counter) -> str:
    return ", ".join(f"{n} {what}" for what, n in sorted(counts.items()))


class Command(BaseCommand):
    help = "Seed a realistic demo company through the public event ingestion (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--scale",
            type=float,
            default=1.0,
            help="fraction of the customers to create (tests use a small one); default 1",
        )

    def handle(self, *args, scale: float, **options):
        started = time.monotonic()
        actor = demo_loader_get_or_create()
        entities, created = demo_entities_ensure(actor=actor)
        self.stage(f"reference data: {len(entities)} legal entities ({created} new)")

        anchor = demo_anchor()
        company = DemoCompany(anchor=anchor, rng=random.Random(SEED), scale=scale)
        bodies = company.build()
        types = Counter(body["type"] for body in bodies)
        self.stage(
            f"company events: {len(bodies)} generated (anchor {anchor}): {outcome_text(types)}"
        )
        counts = self.send(bodies, actor, "company events")

        closed_through = closed_through_for(anchor)
        changed = demo_books_close(
            entity=entities["DE01"], closed_through=closed_through, actor=actor
        )
        self.stage(
            f"books: DE01 closed through {closed_through}" + ("" if changed else " (already)")
        )
        problems = company.problem_events(closed_through)
        counts.update(self.send(problems, actor, "problem events"))

        people = demo_people_ensure()
        self.stage(f"people: {people} demo users, one per role")
        self.report(counts, time.monotonic() - started)

    def stage(self, text: str) -> None:
        self.stdout.write(f"seed_demo: {text}")

    def send(self, bodies: list[dict], actor, what: str) -> Counter:
        def progress(done: int, total: int) -> None:
            if total > done:
                self.stage(f"{what}: {done}/{total} sent")

        counts, refused = demo_events_send(bodies=bodies, actor=actor, progress=progress)
        for result in refused:
            self.stderr.write(f"event refused ({result['status']}): {result}")
        self.stage(f"{what}: {len(bodies)} sent: {outcome_text(counts)}")
        return counts

    def report(self, counts: Counter, seconds: float) -> None:
        total = sum(counts.values())
        self.stdout.write(f"seed_demo: {total} events ({outcome_text(counts)}) in {seconds:.1f}s")
        rows = [
            f"Concord demo: {LOGIN_URL}",
            f"password: {PASSWORD}   (every demo user)",
            "",
            *(f"user: {p.username:<9} {p.role:<18} {p.does}" for p in DEMO_USERS),
        ]
        width = max(len(row) for row in rows) + 2
        self.stdout.write("  +" + "-" * width + "+")
        for row in rows:
            self.stdout.write(f"  | {row:<{width - 1}}|")
        self.stdout.write("  +" + "-" * width + "+")
