"""The demo's writes: reference data, the books' close, the people, and sending the events.

Everything but the legal entities (reference data without an event type) and the demo
people goes through `billing.services.events_ingest_batch`, as a billing platform would send
it. Each step is idempotent: a second run changes nothing.
"""

from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from billing.demo.data import DEMO_PARTNER_ID, DEMO_USERS, ENTITIES, PASSWORD, SOURCE
from billing.models import FinanceEvent, LegalEntity
from billing.services import events_ingest_batch
from config.history import stamp

FIRST_EVENT_ID = "cus-US01-001"
BATCH_SIZE = 500


def demo_loader_get_or_create():
    """The service identity the demo's events are received from."""
    user, created = get_user_model().objects.get_or_create(
        username="demo-billing-platform",
        defaults={"first_name": "Demo", "last_name": "billing platform"},
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def demo_entities_ensure(*, actor) -> tuple[dict[str, LegalEntity], int]:
    """The legal entities, created when missing; (entities by code, how many were created)."""
    result, created = {}, 0
    for spec in ENTITIES:
        entity = LegalEntity.objects.filter(code=spec.code).first()
        if entity is None:
            entity = LegalEntity(
                code=spec.code, name=spec.name, currency=spec.currency, country=spec.country
            )
            stamp(entity, actor=actor, reason="seed_demo: reference data")
            entity.save()
            created += 1
        result[spec.code] = entity
    return result, created


def demo_anchor() -> date:
    """Today on the first run; afterwards the day the first run used (stable bodies)."""
    first = FinanceEvent.objects.filter(source=SOURCE, event_id=FIRST_EVENT_ID).first()
    if first is None:
        return date.today()
    return first.event_time.date() + timedelta(days=400)


def demo_books_close(*, entity: LegalEntity, closed_through: date, actor) -> bool:
    """Close the entity's books through `closed_through`; False when they already were."""
    if entity.closed_through == closed_through:
        return False
    with transaction.atomic():
        entity = LegalEntity.objects.select_for_update().get(pk=entity.pk)
        entity.closed_through = closed_through
        stamp(entity, actor=actor, reason="seed_demo: books closed")
        entity.save(update_fields=["closed_through"])
    return True


def demo_events_send(
    *, bodies: list[dict], actor, progress: Callable[[int, int], None] | None = None
) -> tuple[Counter, list[dict]]:
    """Send the events in batches; (answers counted by outcome, the refused answers)."""
    counts: Counter = Counter()
    refused = []
    for start in range(0, len(bodies), BATCH_SIZE):
        for result in events_ingest_batch(bodies=bodies[start : start + BATCH_SIZE],
                                          actor=actor):  # fmt: skip
            status = result["status"]
            if status == 202:
                counts[f"new {result.get('state', 'stored')}"] += 1
            elif status == 200:
                counts["duplicate"] += 1
            else:
                counts[f"refused {status}"] += 1
                refused.append(result)
        if progress is not None:
            progress(min(start + BATCH_SIZE, len(bodies)), len(bodies))
    return counts, refused


def demo_people_ensure() -> int:
    """One demo user per role, password PASSWORD; how many there are."""
    User = get_user_model()
    for person in DEMO_USERS:
        user, _ = User.objects.get_or_create(username=person.username)
        user.first_name = person.username.capitalize()
        user.partner_code = DEMO_PARTNER_ID if person.role == "partner" else ""
        user.set_password(PASSWORD)
        user.save()
        user.groups.add(Group.objects.get(name=person.role))
    return len(DEMO_USERS)
