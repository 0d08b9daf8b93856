"""Monthly revenue figures, aggregated in the database (lago-api app/models/analytics/*).

Every report covers the calendar months (UTC) from the organization's creation month,
or from `months - 1` months before the current one, up to the current month. Months
after the current one are never shown, even when an invoice is dated there.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, func, literal, literal_column, select, true, union_all
from sqlalchemy.orm import Session

from meterbill.analytics.schemas import (
    AnalyticsFilters,
    GrossRevenueRow,
    InvoiceCollectionRow,
    MrrRow,
    OverdueBalanceRow,
)
from meterbill.core.money import round_half_up
from meterbill.credit_notes.models import CreditNote
from meterbill.customers.models import Customer
from meterbill.invoices.models import Fee, Invoice
from meterbill.invoices.schemas import HIDDEN_STATUSES
from meterbill.organizations.service import get_organization
from meterbill.plans.models import Plan
from meterbill.subscriptions.models import Subscription


def _month_start(moment: date) -> date:
    return moment.replace(day=1)


def _add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class MonthWindow:
    """[first, last] as month starts, both included."""

    first: date
    last: date

    @property
    def end(self) -> date:
        """The first day after the window."""
        return _add_months(self.last, 1)

    @property
    def end_instant(self) -> datetime:
        return datetime(self.end.year, self.end.month, 1, tzinfo=UTC)

    @property
    def first_instant(self) -> datetime:
        return datetime(self.first.year, self.first.month, 1, tzinfo=UTC)

    def months(self) -> list[date]:
        months, month = [], self.first
        while month <= self.last:
            months.append(month)
            month = _add_months(month, 1)
        return months


def month_window(
    organization_created_at: datetime, months: int | None, now: datetime
) -> MonthWindow:
    current = _month_start(now.astimezone(UTC).date())
    since_creation = _month_start(organization_created_at.astimezone(UTC).date())
    if months is None:
        return MonthWindow(since_creation, current)
    # A huge `months` reaches back before year 1; it then simply means "every month".
    back = min(months, (current.year - 1) * 12) - 1
    return MonthWindow(max(since_creation, _add_months(current, -back)), current)


def _window(
    session: Session, organization_id: uuid.UUID, filters: AnalyticsFilters, now: datetime
) -> MonthWindow:
    organization = get_organization(session, organization_id)
    return month_window(organization.created_at, filters.months, now)


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# The constants are inlined, not bound: PostgreSQL sees `to_char(x, $1)` in SELECT and
# `to_char(x, $2)` in GROUP BY as different expressions and refuses the query.
_YEAR_MONTH = literal_column("'YYYY-MM'")


def _date_month(session: Session, column: Any) -> ColumnElement[str]:
    """'YYYY-MM' of a DATE column (SQLite stores dates as ISO text)."""
    if _postgres(session):
        return func.to_char(column, _YEAR_MONTH)
    return func.substr(column, literal_column("1"), literal_column("7"))


def _instant_month(session: Session, column: Any) -> ColumnElement[str]:
    """'YYYY-MM' of a stored UTC instant, read in UTC whatever the session's time zone."""
    if _postgres(session):
        return func.to_char(func.timezone(literal_column("'UTC'"), column), _YEAR_MONTH)
    # Naive UTC text on SQLite.
    return func.substr(column, literal_column("1"), literal_column("7"))


def _month(key: str) -> date:
    year, month = key.split("-")
    return date(int(year), int(month), 1)


def _customer_filter(
    query: Select[Any], filters: AnalyticsFilters, customer_id: Any
) -> Select[Any]:
    if filters.external_customer_id is None:
        return query
    # Only a live customer: after deletion and re-creation, the id names the new one.
    return query.join(Customer, Customer.id == customer_id).where(
        Customer.external_id == filters.external_customer_id, Customer.deleted_at.is_(None)
    )


def _refunded_amount_cents() -> ColumnElement[int]:
    """Σ refund_amount_cents of the invoice's credit notes, whatever their status: Lago's
    gross revenue joins every credit note of the invoice (app/models/analytics/gross_revenue.rb)."""
    return (
        select(func.coalesce(func.sum(CreditNote.refund_amount_cents), 0))
        .where(CreditNote.invoice_id == Invoice.id)
        .scalar_subquery()
    )


def _offset_amount_cents() -> ColumnElement[int]:
    """Σ offset_amount_cents of the invoice's finalized credit notes: what they took off
    the amount due (Lago's overdue_balance.rb)."""
    return (
        select(func.coalesce(func.sum(CreditNote.offset_amount_cents), 0))
        .where(CreditNote.invoice_id == Invoice.id, CreditNote.status == "finalized")
        .scalar_subquery()
    )


def gross_revenues(
    session: Session, organization_id: uuid.UUID, filters: AnalyticsFilters, now: datetime
) -> list[GrossRevenueRow]:
    """Finalized invoices by issuing month (taxes included, refunds deducted), plus
    pay-in-advance fees never put on an invoice by their creation month."""
    window = _window(session, organization_id, filters, now)
    invoice_month = _date_month(session, Invoice.issuing_date)
    invoiced = select(
        invoice_month.label("month"),
        Invoice.currency.label("currency"),
        (Invoice.total_amount_cents - _refunded_amount_cents()).label("amount_cents"),
        literal(1).label("invoices_count"),
    ).where(
        Invoice.organization_id == organization_id,
        Invoice.status == "finalized",
        Invoice.payment_dispute_lost_at.is_(None),
        Invoice.issuing_date >= window.first,
        Invoice.issuing_date < window.end,
    )
    invoiced = _customer_filter(invoiced, filters, Invoice.customer_id)
    fee_month = _instant_month(session, Fee.created_at)
    instant = select(
        fee_month.label("month"),
        Fee.amount_currency.label("currency"),
        Fee.amount_cents.label("amount_cents"),
        literal(0).label("invoices_count"),
    ).where(
        Fee.organization_id == organization_id,
        Fee.invoice_id.is_(None),
        Fee.pay_in_advance.is_(True),
        Fee.deleted_at.is_(None),
        Fee.created_at >= window.first_instant,
        Fee.created_at < window.end_instant,
    )
    instant = _customer_filter(instant, filters, Fee.customer_id)
    if filters.currency is not None:
        invoiced = invoiced.where(Invoice.currency == filters.currency)
        instant = instant.where(Fee.amount_currency == filters.currency)
    combined = union_all(invoiced, instant).subquery()
    rows = session.execute(
        select(
            combined.c.month,
            combined.c.currency,
            func.sum(combined.c.amount_cents),
            func.sum(combined.c.invoices_count),
        )
        .group_by(combined.c.month, combined.c.currency)
        .order_by(combined.c.month, combined.c.currency)
    ).all()
    return [
        GrossRevenueRow(_month(month), currency, int(amount), int(count))
        for month, currency, amount, count in rows
    ]


def _overdue_invoices(
    session: Session, organization_id: uuid.UUID, filters: AnalyticsFilters, window: MonthWindow
) -> Select[Any]:
    query = (
        select()
        .select_from(Invoice)
        .where(
            Invoice.organization_id == organization_id,
            Invoice.payment_overdue.is_(True),
            Invoice.status.not_in(HIDDEN_STATUSES),
            Invoice.payment_due_date >= window.first,
            Invoice.payment_due_date < window.end,
        )
    )
    if filters.currency is not None:
        query = query.where(Invoice.currency == filters.currency)
    return _customer_filter(query, filters, Invoice.customer_id)


def overdue_balances(
    session: Session, organization_id: uuid.UUID, filters: AnalyticsFilters, now: datetime
) -> list[OverdueBalanceRow]:
    """Overdue invoices by month of their payment due date: what remains to be paid."""
    window = _window(session, organization_id, filters, now)
    month = _date_month(session, Invoice.payment_due_date).label("month")
    due = Invoice.total_amount_cents - Invoice.total_paid_amount_cents - _offset_amount_cents()
    base = _overdue_invoices(session, organization_id, filters, window)
    sums = session.execute(
        base.add_columns(month, Invoice.currency, func.sum(due))
        .group_by(month, Invoice.currency)
        .order_by(month, Invoice.currency)
    ).all()
    # The ids listed in each row (the answer names every one, so they are read anyway).
    ids: dict[tuple[str, str], list[str]] = {}
    for key, currency, invoice_id in session.execute(
        base.add_columns(month, Invoice.currency, Invoice.id).order_by(
            Invoice.payment_due_date, Invoice.created_at, Invoice.id
        )
    ):
        ids.setdefault((key, currency), []).append(str(invoice_id))
    return [
        OverdueBalanceRow(_month(key), currency, int(amount), ids[(key, currency)])
        for key, currency, amount in sums
    ]


def invoice_collections(
    session: Session, organization_id: uuid.UUID, filters: AnalyticsFilters, now: datetime
) -> list[InvoiceCollectionRow]:
    """Finalized invoices by issuing month, payment status and currency.

    Unlike the two reports above, Lago zero-fills this one: a month without invoices
    gives a row with null status and currency, unless a currency was asked for. Lago's
    controller passes no customer filter here, so `external_customer_id` is ignored.
    """
    window = _window(session, organization_id, filters, now)
    month = _date_month(session, Invoice.issuing_date).label("month")
    query = (
        select(
            month,
            Invoice.payment_status,
            Invoice.currency,
            func.count(),
            func.sum(Invoice.total_amount_cents),
        )
        .where(
            Invoice.organization_id == organization_id,
            Invoice.status == "finalized",
            Invoice.payment_dispute_lost_at.is_(None),
            Invoice.issuing_date >= window.first,
            Invoice.issuing_date < window.end,
            Invoice.currency == filters.currency if filters.currency is not None else true(),
        )
        .group_by(month, Invoice.payment_status, Invoice.currency)
        .order_by(month, Invoice.payment_status, Invoice.currency)
    )
    found: dict[date, list[InvoiceCollectionRow]] = {}
    for key, status, currency, count, amount in session.execute(query):
        found.setdefault(_month(key), []).append(
            InvoiceCollectionRow(_month(key), status, currency, int(amount), int(count))
        )
    rows: list[InvoiceCollectionRow] = []
    for each in window.months():
        if each in found:
            rows.extend(found[each])
        elif filters.currency is None:
            rows.append(InvoiceCollectionRow(each, None, None, 0, 0))
    return rows


# MRR (lago-api app/models/analytics/mrr.rb). Lago gates it behind its premium licence;
# here it is open. Subscription fees are summed in SQL per (issuing date, currency, plan
# interval and timing, billed range), which leaves a handful of groups however many
# customers share a plan; spreading those groups over months is plain arithmetic.

AVERAGE_MONTH_DAYS = Decimal("30.44")
WEEKS_PER_MONTH = Decimal("4.33")
SPREAD_INTERVALS = ("quarterly", "semiannual", "yearly")


@dataclass(frozen=True)
class SubscriptionFeeGroup:
    issuing_date: date
    currency: str
    interval: str
    pay_in_advance: bool
    from_datetime: datetime | None
    to_datetime: datetime | None
    # Σ (amount − coupons + taxes) of the fees in the group, and how many there are.
    amount: Decimal
    count: int


def _billed_months(group: SubscriptionFeeGroup) -> Decimal:
    """Lago's length of the billed range in months of 30.44 days (to the minute)."""
    if group.from_datetime is None or group.to_datetime is None:
        return Decimal(1)
    span = group.to_datetime - group.from_datetime
    days = Decimal(span.days) + Decimal(span.seconds // 3600) / 24
    days += Decimal(span.seconds % 3600 // 60) / 1440
    return days / AVERAGE_MONTH_DAYS


def _days_in_month(month: date) -> int:
    return (_add_months(month, 1) - month).days


def spread(group: SubscriptionFeeGroup) -> list[tuple[date, Decimal]]:
    """(month, amount) shares of one group of subscription fees, by Lago's formulas.

    Monthly fees count in their issuing month. Quarterly, semiannual and yearly fees are
    spread evenly over the months they cover: forwards from the issuing month when paid
    in advance (the first month prorated by the days left in it, the last taking the
    remainder), backwards when paid in arrears (the oldest month taking the remainder).
    Weekly fees are handled per month by `mrrs` (an average × 4.33).
    """
    issuing_month = _month_start(group.issuing_date)
    if group.interval not in SPREAD_INTERVALS:
        return [(issuing_month, group.amount)]
    billed = _billed_months(group)
    if billed <= 0:
        return [(issuing_month, group.amount)]
    count = max(math.ceil(billed), 1)
    share = group.amount / billed
    if not group.pay_in_advance:
        shares = [(_add_months(issuing_month, -index), share) for index in range(count - 1)]
        shares.append(
            (_add_months(issuing_month, -(count - 1)), group.amount - share * (count - 1))
        )
        return shares
    days_left = _days_in_month(issuing_month) - (group.issuing_date - issuing_month).days
    first = Decimal(days_left) / Decimal(_days_in_month(issuing_month))
    shares = []
    for index in range(count):
        if index == 0:
            amount = share * first
        elif index == count - 1:
            amount = group.amount - share * (math.floor(billed) - 1 + first)
        else:
            amount = share
        shares.append((_add_months(issuing_month, index), amount))
    return shares


def _subscription_fee_groups(
    session: Session, organization_id: uuid.UUID, filters: AnalyticsFilters
) -> list[SubscriptionFeeGroup]:
    postgres = _postgres(session)
    # The coupon share is an exact decimal (text on SQLite): summed exactly on both.
    coupons = (
        func.sum(Fee.precise_coupons_amount_cents)
        if postgres
        else func.mb_sum(Fee.precise_coupons_amount_cents)
    )
    columns = (
        Invoice.issuing_date,
        Fee.amount_currency,
        Plan.interval,
        Plan.pay_in_advance,
        Fee.from_datetime,
        Fee.to_datetime,
    )
    query = (
        select(
            *columns,
            func.sum(Fee.amount_cents + Fee.taxes_amount_cents),
            coupons,
            func.count(),
        )
        .join(Invoice, Invoice.id == Fee.invoice_id)
        .join(Subscription, Subscription.id == Fee.subscription_id)
        .join(Plan, Plan.id == Subscription.plan_id)
        .where(
            Fee.organization_id == organization_id,
            Fee.fee_type == "subscription",
            Fee.deleted_at.is_(None),
            Invoice.status == "finalized",
            Invoice.payment_dispute_lost_at.is_(None),
        )
        .group_by(*columns)
    )
    if filters.currency is not None:
        query = query.where(Fee.amount_currency == filters.currency)
    return [
        SubscriptionFeeGroup(
            issuing,
            currency,
            interval,
            advance,
            start,
            end,
            Decimal(str(amount)) - Decimal(str(coupon or 0)),
            int(count),
        )
        for issuing, currency, interval, advance, start, end, amount, coupon, count in (
            session.execute(query)
        )
    ]


def mrrs(
    session: Session, organization_id: uuid.UUID, filters: AnalyticsFilters, now: datetime
) -> list[MrrRow]:
    """Monthly recurring revenue per month and currency, zero-filled like Lago's (a month
    without any gives a row with null amount and currency, unless a currency was asked)."""
    window = _window(session, organization_id, filters, now)
    totals: dict[tuple[date, str], Decimal] = {}
    weekly: dict[tuple[date, str], list[Decimal]] = {}
    for group in _subscription_fee_groups(session, organization_id, filters):
        if group.interval == "weekly":
            key = (_month_start(group.issuing_date), group.currency)
            sums = weekly.setdefault(key, [Decimal(0), Decimal(0)])
            sums[0] += group.amount
            sums[1] += group.count
            continue
        for month, amount in spread(group):
            totals[(month, group.currency)] = (
                totals.get((month, group.currency), Decimal(0)) + amount
            )
    for key, (amount, count) in weekly.items():
        # The average weekly invoice of the month, times the weeks in a month.
        totals[key] = totals.get(key, Decimal(0)) + amount / count * WEEKS_PER_MONTH
    rows: list[MrrRow] = []
    for month in window.months():
        found = sorted((currency, amount) for (m, currency), amount in totals.items() if m == month)
        if found:
            rows.extend(MrrRow(month, c, int(round_half_up(a))) for c, a in found)
        elif filters.currency is None:
            rows.append(MrrRow(month, None, None))
    return rows


# One customer's figures for the dashboard: the same reports as the endpoints above, for
# `external_customer_id`, added up (the Billing overview) or laid out month by month.


@dataclass(frozen=True)
class CurrencyTotal:
    currency: str
    amount_cents: int
    invoices_count: int


@dataclass(frozen=True)
class BillingOverview:
    """Gross revenue and total overdue per currency, each "for N invoices"."""

    gross_revenue: list[CurrencyTotal]
    overdue: list[CurrencyTotal]


def billing_overview(
    session: Session, organization_id: uuid.UUID, external_customer_id: str, now: datetime
) -> BillingOverview:
    """The sums of GET /analytics/gross_revenue and /overdue_balance for one customer
    (every month since the organization's creation), per currency."""
    filters = AnalyticsFilters(external_customer_id=external_customer_id)
    gross: dict[str, tuple[int, int]] = {}
    for row in gross_revenues(session, organization_id, filters, now):
        amount, count = gross.get(row.currency, (0, 0))
        gross[row.currency] = (amount + row.amount_cents, count + row.invoices_count)
    overdue: dict[str, tuple[int, int]] = {}
    for item in overdue_balances(session, organization_id, filters, now):
        amount, count = overdue.get(item.currency, (0, 0))
        overdue[item.currency] = (amount + item.amount_cents, count + len(item.lago_invoice_ids))
    return BillingOverview(
        gross_revenue=[CurrencyTotal(c, a, n) for c, (a, n) in sorted(gross.items())],
        overdue=[CurrencyTotal(c, a, n) for c, (a, n) in sorted(overdue.items())],
    )


@dataclass(frozen=True)
class MonthlyAmount:
    month: date
    amount_cents: int
    invoices_count: int


def monthly_gross_revenue(
    session: Session,
    organization_id: uuid.UUID,
    external_customer_id: str,
    currency: str,
    now: datetime,
    months: int = 12,
) -> list[MonthlyAmount]:
    """One customer's gross revenue in `currency` for each of the last `months` months
    (those since the organization's creation), months without revenue at zero."""
    filters = AnalyticsFilters(
        external_customer_id=external_customer_id, currency=currency, months=months
    )
    window = _window(session, organization_id, filters, now)
    found = {row.month: row for row in gross_revenues(session, organization_id, filters, now)}
    return [
        MonthlyAmount(month, found[month].amount_cents, found[month].invoices_count)
        if month in found
        else MonthlyAmount(month, 0, 0)
        for month in window.months()
    ]


# The organization's Analytics page: the reports above for one currency over a window,
# with the window's months and the currencies worth offering.


def report_months(
    session: Session, organization_id: uuid.UUID, filters: AnalyticsFilters, now: datetime
) -> list[date]:
    """The months (first days) every report above covers for `filters`."""
    return _window(session, organization_id, filters, now).months()


def invoiced_currencies(session: Session, organization_id: uuid.UUID) -> list[str]:
    """The currencies of the organization's finalized invoices, sorted: the reports
    give nothing in another."""
    return sorted(
        session.scalars(
            select(Invoice.currency)
            .where(Invoice.organization_id == organization_id, Invoice.status == "finalized")
            .distinct()
        )
    )
