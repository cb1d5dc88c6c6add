"""Build the ERP document of an event: a pure function of (event, billing records, rules).

Nothing is written. The event's own data carries the amounts and lines (it is what billing
applied); billing records give the context the event does not repeat (the customer's country
and region, the subscription's partner, the invoice a payment applies to). Every amount is
quantised to the currency, and every document is checked balanced before it is returned.

Postings per document type (DR = debit, CR = credit):
- invoice:     DR receivable (total); CR revenue per line; CR tax per (tax account, tax code)
- credit_note: the mirror: CR receivable; DR revenue per line; DR tax
- payment:     DR bank (the payment rule's revenue_account); CR receivable
- refund:      the mirror of a payment: DR receivable; CR bank
- write_off:   DR bad-debt expense (the write-off rule's revenue_account); CR receivable
- settlement:  DR commission expense (revenue_account); CR partner payable (receivable_account);
               a vendor bill to the partner: one line of the total on the expense account
A negative amount (a discount line) posts on the other side.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from dataclasses import dataclass, field
from decimal import Decimal

from erp_sync.adapters.base import DocumentLine, ErpDocument, Party, Posting
from erp_sync.builder_lookups import ZERO, BuilderLookups
from erp_sync.documents import document_type_for, external_id_for, parent_external_id_for
from erp_sync.errors import DocumentSourceError, UnbalancedDocumentError
from erp_sync.models import MappingRule

DEBIT, CREDIT = "debit", "credit"


@dataclass(frozen=True)
class BuiltDocument:
    """The document and every mapping rule (version) it used, first use first.

    `line_rules` says which rule mapped what (label → rule), for the preview.
    """

    document: ErpDocument
    rules: list[MappingRule]
    line_rules: tuple[tuple[str, MappingRule], ...] = field(default=())


def build_document(
    *,
    event,
    connection,
    posting_date: dt.date | None = None,
    draft: MappingRule | None = None,
) -> BuiltDocument:
    """The ERP document of `event` for `connection`.

    `posting_date` moves the document to another date (the closed-period policy
    "post_next_open"); the original date is kept in `extra["original_date"]` and rules are
    resolved on the original date. `draft`, an unsaved rule, is taken as if it were saved
    (erp_sync.mapping.resolve_rule): the preview of a rule before it is saved. Raises
    MappingMissingError (with `.match`), UnbalancedDocumentError, or DocumentSourceError (the
    event is not postable, or a record it names is not in billing).
    """
    kind = document_type_for(event.type)
    if kind is None:
        raise DocumentSourceError(
            f"{event.type} events post nothing to the ERP", code="not_postable", field="type"
        )
    builder = _Builder(event=event, connection=connection, kind=kind, draft=draft)
    return builder.build(posting_date)


class _Builder(BuilderLookups):
    def __init__(self, *, event, connection, kind: str, draft: MappingRule | None = None):
        self.event = event
        self.draft = draft
        self.connection = connection
        self.kind = kind
        self.data = (event.body or {}).get("data", {}) or {}
        self.entity = event.entity
        self.rules: OrderedDict[int, MappingRule] = OrderedDict()
        self.line_rules: list[tuple[str, MappingRule]] = []
        self._cache: dict[tuple, MappingRule | None] = {}

    # -- entry -------------------------------------------------------------------------------
    def build(self, posting_date: dt.date | None) -> BuiltDocument:
        build = getattr(self, f"_build_{self.kind}")
        doc_date, fields = build()
        extra = dict(fields.pop("extra", {}))
        if posting_date is not None and posting_date != doc_date:
            extra["original_date"] = doc_date.isoformat()
            doc_date = posting_date
        document = ErpDocument(
            external_id=external_id_for(event=self.event, connection=self.connection),
            kind=self.kind,
            entity=self.entity,
            document_date=doc_date,
            parent_external_id=parent_external_id_for(event=self.event, connection=self.connection),
            extra=extra,
            **fields,
        )
        check_balanced(document)
        return BuiltDocument(
            document=document, rules=list(self.rules.values()), line_rules=tuple(self.line_rules)
        )

    # -- per document type --------------------------------------------------------------------
    def _build_invoice(self):
        return self._commercial(receivable_side=DEBIT)

    def _build_credit_note(self):
        return self._commercial(receivable_side=CREDIT)

    def _commercial(self, *, receivable_side: str):
        from billing.models import Customer, Invoice

        currency = self._currency()
        on_date = self._date("issue_date")
        if self.kind == "invoice":
            customer = self._get(Customer, "customer_id", self.data.get("customer_id"))
            subscription_id = self.data.get("subscription_id") or ""
            reference = self.data.get("invoice_id", "")
        else:
            invoice = self._get(Invoice, "invoice_id", self.data.get("invoice_id"))
            customer = invoice.customer
            subscription_id = invoice.subscription.subscription_id if invoice.subscription else ""
            reference = self.data.get("credit_note_id", "")
        context = self._customer_context(customer, currency, subscription_id)
        revenue_side = CREDIT if receivable_side == DEBIT else DEBIT

        lines: list[DocumentLine] = []
        revenue_postings: list[Posting] = []
        taxes: OrderedDict[tuple[str, str], Decimal] = OrderedDict()
        line_rules: list[MappingRule] = []
        for index, item in enumerate(self.data.get("lines") or []):
            family = item.get("product_family", "")
            label = f"line {index + 1} ({item.get('line_id', '')}, {family})"
            rule = self._rule(on_date, context, product_family=family, line=label)
            revenue = self._account(rule, "revenue_account", context, on_date, line=label)
            amount = self._amount(item.get("amount"), currency, f"lines[{index}].amount")
            tax = self._amount(item.get("tax_amount", "0"), currency, f"lines[{index}].tax_amount")
            tax_code = rule.tax_code or item.get("tax_code", "")
            lines.append(
                DocumentLine(
                    description=item.get("description", ""),
                    account=revenue,
                    quantity=Decimal(str(item.get("quantity", "1"))),
                    unit_price=Decimal(str(item.get("unit_price", amount))),
                    amount=amount,
                    tax_code=tax_code,
                    tax_amount=tax,
                    cost_center=rule.cost_center,
                    item=rule.erp_item,
                )
            )
            line_rules.append(rule)
            self.line_rules.append((label, rule))
            if amount:
                revenue_postings.append(
                    _posting(revenue, amount, revenue_side, item.get("description", ""))
                )
            if tax:
                tax_account = rule.tax_account or self._document_rule_field(
                    on_date, context, "tax_account"
                )
                if not tax_account:
                    raise self._missing(
                        context,
                        on_date,
                        product_family=family,
                        line=label,
                        account="tax_account",
                        rule=rule,
                    )
                key = (tax_account, tax_code)
                taxes[key] = taxes.get(key, ZERO) + tax
        if not lines:
            raise DocumentSourceError("the event has no lines", code="no_lines", field="data.lines")

        receivable = self._document_rule_field(on_date, context, "receivable_account") or next(
            (r.receivable_account for r in line_rules if r.receivable_account), ""
        )
        if not receivable:
            raise self._missing(context, on_date, account="receivable_account")
        subtotal = sum((line.amount for line in lines), ZERO)
        tax_total = sum((line.tax_amount for line in lines), ZERO)
        total = subtotal + tax_total
        postings = [_posting(receivable, total, receivable_side, "receivable")]
        postings += revenue_postings
        postings += [
            _posting(account, amount, revenue_side, f"tax {code}".strip())
            for (account, code), amount in taxes.items()
            if amount
        ]
        return on_date, {
            "currency": currency,
            "party": _party(customer),
            "total": total,
            "tax_total": tax_total,
            "receivable_account": receivable,
            "reference": reference,
            "lines": tuple(lines),
            "postings": tuple(postings),
            "memo": self.data.get("reason", ""),
        }

    def _build_payment(self):
        from billing.models import Customer, Invoice

        currency = self._currency()
        on_date = self._datetime_date("received_at")
        customer = self._get(Customer, "customer_id", self.data.get("customer_id"))
        subscription_id = ""
        if self.data.get("invoice_id"):
            invoice = Invoice.objects.filter(invoice_id=self.data["invoice_id"]).first()
            if invoice is not None and invoice.subscription_id:
                subscription_id = invoice.subscription.subscription_id
        context = self._customer_context(customer, currency, subscription_id)
        return self._two_sided(
            on_date,
            context,
            debit_field="revenue_account",
            credit_field="receivable_account",
            party=_party(customer),
            reference=self.data.get("payment_id", ""),
            memo=self.data.get("method", ""),
        )

    def _build_refund(self):
        from billing.models import Payment

        currency = self._currency()
        on_date = self._datetime_date("issued_at")
        payment = self._get(Payment, "payment_id", self.data.get("payment_id"))
        context = self._customer_context(payment.customer, currency, "")
        return self._two_sided(
            on_date,
            context,
            debit_field="receivable_account",
            credit_field="revenue_account",
            party=_party(payment.customer),
            reference=self.data.get("refund_id", ""),
            memo=f"refund of {payment.payment_id}",
        )

    def _build_write_off(self):
        from billing.models import Invoice

        currency = self._currency()
        on_date = self._event_date()
        invoice = self._get(Invoice, "invoice_id", self.data.get("invoice_id"))
        subscription_id = invoice.subscription.subscription_id if invoice.subscription else ""
        context = self._customer_context(invoice.customer, currency, subscription_id)
        return self._two_sided(
            on_date,
            context,
            debit_field="revenue_account",
            credit_field="receivable_account",
            party=_party(invoice.customer),
            reference=invoice.invoice_id,
            memo=self.data.get("reason", ""),
        )

    def _build_settlement(self):
        from partners.models import Partner

        currency = self._currency()
        partner = self._get(Partner, "partner_id", self.data.get("partner_id"))
        on_date = (
            self._date("approved_on")
            if self.data.get("approved_on")
            else self._date("period_end")
            if self.data.get("period_end")
            else self._event_date()
        )
        context = {
            "country": partner.country,
            "region": "",
            "currency": currency,
            "partner_kind": partner.kind,
        }
        party = Party(code=partner.partner_id, name=partner.name, country=partner.country)
        on_date, fields = self._two_sided(
            on_date,
            context,
            debit_field="revenue_account",
            credit_field="receivable_account",
            party=party,
            reference=self.data.get("settlement_id", ""),
            memo="partner settlement",
            amount_key="total" if "total" in self.data else "amount",
        )
        period = (self.data.get("period_start"), self.data.get("period_end"))
        if all(period):
            fields["extra"] = {"period_start": period[0], "period_end": period[1]}
        # The vendor bill's one line: the whole total on the commission expense account.
        total = fields["total"]
        fields["lines"] = (
            DocumentLine(
                description=f"Partner commission {partner.partner_id} {period[0]}..{period[1]}",
                account=fields["postings"][0].account,
                quantity=Decimal(1),
                unit_price=total,
                amount=total,
            ),
        )
        return on_date, fields

    def _two_sided(
        self,
        on_date: dt.date,
        context: dict,
        *,
        debit_field: str,
        credit_field: str,
        party: Party,
        reference: str,
        memo: str,
        amount_key: str = "amount",
    ):
        """A document of one amount: DR the rule's `debit_field`, CR its `credit_field`."""
        currency = context["currency"]
        rule = self._rule(on_date, context, line="document")
        self.line_rules.append(("document", rule))
        debit_account = self._account(rule, debit_field, context, on_date)
        credit_account = self._account(rule, credit_field, context, on_date)
        amount = self._amount(self.data.get(amount_key), currency, amount_key)
        postings = (
            _posting(debit_account, amount, DEBIT, memo),
            _posting(credit_account, amount, CREDIT, memo),
        )
        return on_date, {
            "currency": currency,
            "party": party,
            "total": amount,
            "receivable_account": rule.receivable_account,
            "reference": reference,
            "postings": postings,
            "memo": memo,
        }


def _party(customer) -> Party:
    return Party(
        code=customer.customer_id,
        name=customer.name,
        country=customer.country,
        tax_id=customer.tax_id,
    )


def _posting(account: str, amount: Decimal, side: str, memo: str = "") -> Posting:
    """A posting of `amount` on `side`; a negative amount goes on the other side."""
    if amount < 0:
        side = CREDIT if side == DEBIT else DEBIT
        amount = -amount
    if side == DEBIT:
        return Posting(account=account, debit=amount, memo=memo)
    return Posting(account=account, credit=amount, memo=memo)


def check_balanced(document: ErpDocument) -> None:
    """Raise UnbalancedDocumentError unless debits equal credits (one currency per document)."""
    debit = sum((p.debit for p in document.postings), ZERO)
    credit = sum((p.credit for p in document.postings), ZERO)
    if not document.postings or debit != credit:
        raise UnbalancedDocumentError(
            f"document {document.external_id} does not balance in {document.currency}: "
            f"debits {debit}, credits {credit}",
            debit=debit,
            credit=credit,
        )
