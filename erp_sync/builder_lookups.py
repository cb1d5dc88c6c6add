"""What the document builder looks up: the mapping rule of each line and document, the
accounts it names, the billing records an event refers to, and typed fields of the event's
data (currency, amounts, dates). Mixed into the builder of `erp_sync.builders`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.utils.dateparse import parse_datetime

from config.money import CurrencyError, quantize
from erp_sync.errors import DocumentSourceError, MappingMissingError
from erp_sync.mapping import resolve_rule
from erp_sync.models import MappingRule

ZERO = Decimal(0)


class BuilderLookups:
    """Look-ups for the builder (uses its `event`, `data`, `entity`, `kind` and rule caches)."""

    # -- rules --------------------------------------------------------------------------------
    def _rule(
        self, on_date: dt.date, context: dict, *, product_family: str = "", line: str = ""
    ) -> MappingRule:
        rule = self._lookup(on_date, context, product_family)
        if rule is None:
            raise self._missing(context, on_date, product_family=product_family, line=line)
        self.rules.setdefault(rule.pk, rule)
        return rule

    def _lookup(self, on_date: dt.date, context: dict, product_family: str) -> MappingRule | None:
        key = (on_date, product_family, tuple(sorted(context.items())))
        if key not in self._cache:
            self._cache[key] = resolve_rule(
                entity=self.entity,
                document_type=self.kind,
                product_family=product_family,
                on_date=on_date,
                draft=self.draft,
                **context,
            )
        return self._cache[key]

    def _document_rule_field(self, on_date: dt.date, context: dict, name: str) -> str:
        """`name` of the document-level rule (no product family), when there is one."""
        rule = self._lookup(on_date, context, "")
        if rule is not None and getattr(rule, name):
            self.rules.setdefault(rule.pk, rule)
            return getattr(rule, name)
        return ""

    def _account(
        self, rule: MappingRule, name: str, context: dict, on_date: dt.date, *, line: str = ""
    ) -> str:
        value = getattr(rule, name)
        if not value:
            raise self._missing(context, on_date, line=line, account=name, rule=rule)
        return value

    def _missing(
        self,
        context: dict,
        on_date: dt.date,
        *,
        product_family: str = "",
        line: str = "",
        account: str = "",
        rule: MappingRule | None = None,
    ) -> MappingMissingError:
        match = {
            "entity": self.entity,
            "document_type": self.kind,
            "product_family": product_family,
            **context,
            "on_date": on_date.isoformat(),
        }
        if line:
            match["line"] = line
        described = ", ".join(f"{k}={v}" for k, v in match.items() if v and k != "line")
        if account:
            match["account"] = account
            if rule is not None:
                match["rule"] = f"{rule.name} v{rule.version} (id {rule.pk})"
            message = (
                f'rule "{rule.name}" v{rule.version} (id {rule.pk}) has no {account} '
                f"for {described}"
                if rule is not None
                else f"no rule gives a {account} for {described}"
            )
        else:
            message = f"no active mapping rule matches {described}"
        if line and line != "document":
            message += f" ({line})"
        return MappingMissingError(message, match=match)

    # -- records and values -------------------------------------------------------------------
    def _customer_context(self, customer, currency: str, subscription_id: str) -> dict:
        return {
            "country": customer.country,
            "region": customer.region,
            "currency": currency,
            "partner_kind": _partner_kind(subscription_id),
        }

    def _get(self, model, key: str, value):
        record = model.objects.filter(**{key: value}).first() if value else None
        if record is None:
            raise DocumentSourceError(
                f"no {model._meta.verbose_name} with {key} {value!r} in billing",
                field=f"data.{key}",
            )
        return record

    def _currency(self) -> str:
        currency = self.data.get("currency", "")
        try:
            quantize(ZERO, currency)
        except CurrencyError:
            raise DocumentSourceError(
                f"{currency!r} is not a currency", code="invalid_currency", field="data.currency"
            ) from None
        return currency

    def _amount(self, value, currency: str, name: str) -> Decimal:
        try:
            return quantize(Decimal(str(value)), currency)
        except (InvalidOperation, TypeError, ValueError):
            raise DocumentSourceError(
                f"data.{name} {value!r} is not an amount",
                code="invalid_amount",
                field=f"data.{name}",
            ) from None

    def _date(self, name: str) -> dt.date:
        try:
            return dt.date.fromisoformat(str(self.data.get(name)))
        except ValueError:
            raise DocumentSourceError(
                f"data.{name} is not a date", code="invalid_date", field=f"data.{name}"
            ) from None

    def _datetime_date(self, name: str) -> dt.date:
        """The date as the source wrote it (its own offset), not converted to UTC."""
        value = parse_datetime(str(self.data.get(name, "")))
        if value is None:
            raise DocumentSourceError(
                f"data.{name} is not a date-time", code="invalid_date", field=f"data.{name}"
            )
        return value.date()

    def _event_date(self) -> dt.date:
        time = self.event.event_time
        if isinstance(time, str):
            time = parse_datetime(time)
        return time.date()


def _partner_kind(subscription_id: str) -> str:
    """The kind of the subscription's partner, or "" (no subscription, no partner)."""
    from billing.models import Subscription
    from partners.models import Partner

    if not subscription_id:
        return ""
    code = (
        Subscription.objects.filter(subscription_id=subscription_id)
        .values_list("partner_code", flat=True)
        .first()
    )
    if not code:
        return ""
    return Partner.objects.filter(partner_id=code).values_list("kind", flat=True).first() or ""
