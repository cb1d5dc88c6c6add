import factory
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from exceptions.models import Case, CaseComment, CaseState, sla_due


class UserFactory(factory.django.DjangoModelFactory):
    """A plain user, used as the subject of test cases (any model works as a subject)."""

    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"subject-{n}")


class CaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Case
        exclude = ["subject"]

    subject = factory.SubFactory(UserFactory)
    subject_type = factory.LazyAttribute(lambda o: ContentType.objects.get_for_model(o.subject))
    subject_id = factory.LazyAttribute(lambda o: str(o.subject.pk))
    subject_label = factory.LazyAttribute(lambda o: str(o.subject))
    kind = "unknown_customer"
    severity = "high"
    state = CaseState.OPEN
    title = factory.Sequence(lambda n: f"Problem {n}")
    blocking = True
    first_seen_at = factory.LazyFunction(timezone.now)
    last_seen_at = factory.LazyAttribute(lambda o: o.first_seen_at)
    sla_due_at = factory.LazyAttribute(lambda o: sla_due(o.severity, o.first_seen_at))

    class Params:
        acknowledged = factory.Trait(state=CaseState.ACKNOWLEDGED)
        resolved = factory.Trait(
            state=CaseState.RESOLVED,
            resolution="fixed",
            resolved_at=factory.LazyFunction(timezone.now),
        )
        dismissed = factory.Trait(
            state=CaseState.DISMISSED,
            resolution="not a problem",
            resolved_at=factory.LazyFunction(timezone.now),
        )


class CaseCommentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CaseComment

    case = factory.SubFactory(CaseFactory)
    author = factory.SubFactory(UserFactory)
    body = "Looking into it."
