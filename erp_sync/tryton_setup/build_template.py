"""Set up a freshly initialised Tryton database for Concord (runs INSIDE .venv-tryton).

Run by `erp_sync.tryton_setup.template.template_ensure` after `trytond-admin` activated
account_invoice; never imported by Concord itself (it needs trytond and proteus). It uses
proteus in-process (`config.set_trytond`), like Tryton's own scenario tests, so no server is
needed. Not idempotent: it expects a database where nothing of this exists yet.

    .venv-tryton/bin/python erp_sync/tryton_setup/build_template.py -c trytond.conf -d DB
"""

import argparse
import datetime as dt
import json
from decimal import Decimal

from proteus import Model, Wizard, config
from trytond.modules.company.tests.tools import create_company

COMPANY_NAME = "Concord Demo US"
COMPANY_CURRENCY = "USD"
# Units of each currency per 1 USD, effective from RATE_DATE (Tryton rates are relative).
CURRENCIES = {
    "USD": ("U.S. Dollar", "$", Decimal("1.000000")),
    "EUR": ("Euro", "€", Decimal("0.920000")),
    "GBP": ("Pound Sterling", "£", Decimal("0.790000")),
}
RATE_DATE = dt.date(2000, 1, 1)
FISCAL_YEARS = (2025, 2026, 2027)
# name -> (rate, description); Concord's mapping rules send the name as `tax_code`.
TAXES = {
    "US-SALES-10": (Decimal("0.10"), "US sales tax 10%"),
    "EXEMPT-0": (Decimal("0"), "Tax exempt 0%"),
}
# Codes in the Universal Chart of Accounts.
RECEIVABLE_ACCOUNT_CODE = "1.2.1"  # Accounts, Notes And Loans Receivable
PAYABLE_ACCOUNT_CODE = "2.1.1"  # Trade Payables
CASH_ACCOUNT_CODE = "1.1.1"  # Cash and Cash Equivalents
TAX_ACCOUNT_CODE = "2.2.3"  # Accrued Taxes (Other Than Payroll): sales tax collected
BAD_DEBT_ACCOUNT_CODE = "5.2.3"  # Credit Loss (Reversal) On Receivables
EXCHANGE_ACCOUNT_CODE = "6.2.1"  # Foreign Currency Transaction Gain (Loss)
PAYMENT_METHOD_NAME = "Concord bank transfer"
WRITE_OFF_NAME = "Concord bad debt"


def create_currencies():
    Currency = Model.get("currency.currency")
    Rate = Model.get("currency.currency.rate")
    for code, (name, symbol, rate) in CURRENCIES.items():
        currency = Currency(name=name, symbol=symbol, code=code, rounding=Decimal("0.01"))
        currency.save()
        Rate(date=RATE_DATE, rate=rate, currency=currency).save()


def create_chart_of_accounts(company):
    """The Universal Chart of Accounts, with default receivable/payable for every party."""
    AccountTemplate = Model.get("account.account.template")
    ModelData = Model.get("ir.model.data")
    template_id = ModelData.get_id("account.account_template_root_en", config.get_config().context)
    wizard = Wizard("account.create_chart")
    wizard.execute("account")
    wizard.form.account_template = AccountTemplate(template_id)
    wizard.form.company = company
    wizard.execute("create_account")
    wizard.form.account_receivable = account_by_code(company, RECEIVABLE_ACCOUNT_CODE)
    wizard.form.account_payable = account_by_code(company, PAYABLE_ACCOUNT_CODE)
    wizard.execute("create_properties")


def create_fiscal_years(company):
    FiscalYear = Model.get("account.fiscalyear")
    StrictSequence = Model.get("ir.sequence.strict")
    SequenceType = Model.get("ir.sequence.type")
    (move_type,) = SequenceType.find([("name", "=", "Account Move")], limit=1)
    (invoice_type,) = SequenceType.find([("name", "=", "Invoice")], limit=1)
    for year in FISCAL_YEARS:

        def sequence(name, sequence_type, prefix, year=year):
            seq = StrictSequence(
                name=f"{name} {year}", sequence_type=sequence_type, company=company
            )
            seq.prefix = prefix
            seq.save()
            return seq

        fiscal_year = FiscalYear(name=str(year), company=company)
        fiscal_year.start_date = dt.date(year, 1, 1)
        fiscal_year.end_date = dt.date(year, 12, 31)
        fiscal_year.move_sequence = sequence("Moves", move_type, f"M{year}/")
        (invoice_sequences,) = fiscal_year.invoice_sequences
        invoice_sequences.out_invoice_sequence = sequence("Invoices", invoice_type, f"INV{year}/")
        invoice_sequences.out_credit_note_sequence = sequence(
            "Credit notes", invoice_type, f"CN{year}/"
        )
        invoice_sequences.in_invoice_sequence = sequence(
            "Supplier invoices", invoice_type, f"SINV{year}/"
        )
        invoice_sequences.in_credit_note_sequence = sequence(
            "Supplier credit notes", invoice_type, f"SCN{year}/"
        )
        fiscal_year.save()
        fiscal_year.click("create_period")


def account_by_code(company, code):
    Account = Model.get("account.account")
    (account,) = Account.find([("company", "=", company.id), ("code", "=", code)])
    return account


def create_taxes(company):
    Tax = Model.get("account.tax")
    tax_account = account_by_code(company, TAX_ACCOUNT_CODE)
    for name, (rate, description) in TAXES.items():
        tax = Tax(name=name, description=description, type="percentage", rate=rate)
        tax.invoice_account = tax_account
        tax.credit_note_account = tax_account
        tax.save()


def create_payment_methods(company):
    Journal = Model.get("account.journal")
    PaymentMethod = Model.get("account.invoice.payment.method")
    WriteOff = Model.get("account.move.reconcile.write_off")
    (cash_journal,) = Journal.find([("code", "=", "CASH")])
    (write_off_journal,) = Journal.find([("type", "=", "write-off")], limit=1)
    cash = account_by_code(company, CASH_ACCOUNT_CODE)
    method = PaymentMethod(name=PAYMENT_METHOD_NAME, company=company, journal=cash_journal)
    method.credit_account = cash
    method.debit_account = cash
    method.save()
    write_off = WriteOff(name=WRITE_OFF_NAME, company=company, journal=write_off_journal)
    bad_debt = account_by_code(company, BAD_DEBT_ACCOUNT_CODE)
    write_off.credit_account = bad_debt
    write_off.debit_account = bad_debt
    write_off.save()


def configure_exchange_accounts(company):
    Configuration = Model.get("account.configuration")
    configuration = Configuration(1)
    exchange = account_by_code(company, EXCHANGE_ACCOUNT_CODE)
    configuration.currency_exchange_debit_account = exchange
    configuration.currency_exchange_credit_account = exchange
    configuration.save()


def describe(company):
    """What Concord's mapping rules may refer to: account codes, taxes, currencies."""
    Account = Model.get("account.account")
    kinds = ("receivable", "payable", "revenue", "expense")
    accounts = []
    for account in Account.find(
        [("company", "=", company.id), ("code", "!=", None), ("type", "!=", None)],
        order=[("code", "ASC")],
    ):
        flags = [kind for kind in kinds if getattr(account.type, kind)]
        accounts.append(
            {
                "code": account.code,
                "name": account.name,
                "kind": flags[0] if flags else "other",
                "party_required": account.party_required,
            }
        )
    return {
        "company": COMPANY_NAME,
        "company_currency": COMPANY_CURRENCY,
        "currencies": sorted(CURRENCIES),
        "fiscal_years": list(FISCAL_YEARS),
        "taxes": {name: str(rate) for name, (rate, _) in TAXES.items()},
        "payment_method": PAYMENT_METHOD_NAME,
        "write_off_method": WRITE_OFF_NAME,
        "accounts": accounts,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-c", "--config", required=True)
    parser.add_argument("-d", "--database", required=True)
    parser.add_argument("--describe-to", help="write the JSON description to this file")
    args = parser.parse_args()

    config.set_trytond(database=args.database, config_file=args.config)
    create_currencies()
    Party = Model.get("party.party")
    party = Party(name=COMPANY_NAME)
    party.save()
    create_company(
        party=party,
        currency=Model.get("currency.currency").find([("code", "=", COMPANY_CURRENCY)])[0],
    )
    Company = Model.get("company.company")
    (company,) = Company.find()
    create_chart_of_accounts(company)
    create_fiscal_years(company)
    create_taxes(company)
    create_payment_methods(company)
    configure_exchange_accounts(company)
    description = describe(company)
    if args.describe_to:
        with open(args.describe_to, "w", encoding="utf-8") as out:
            json.dump(description, out, indent=2)
    print(f"template ready: {len(description['accounts'])} accounts")


if __name__ == "__main__":
    main()
