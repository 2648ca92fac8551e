"""Public disclosure (公示) of the funds: what came in, what went out, to which kinds of need
and which streets, month by month, and the rows behind the figures.

Everything here is for anonymous readers. Rows are read with `values()` so that only the
named public columns ever leave the database: a disbursement shows its date, category,
street, kind, amount, item and its de-identified purpose, never the need, the case or the
household; a donation shows its donor as `Donation.public_donor` masks it. Figures are summed
in SQL, so a page costs the same number of queries however many rows the funds have.
Months are Shanghai calendar months.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, DateField, DecimalField, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate, TruncMonth
from django.http import Http404
from django.utils import timezone

from charity.models import Account, Disbursement, Donation, Fund
from charity.selectors.projects import project_list_public

__all__ = [
    "Disclosure",
    "DisbursementRow",
    "DonationRow",
    "FundOverview",
    "FundsOverview",
    "MonthFigures",
    "Rows",
    "Share",
    "disclosure_for_funds",
    "fund_get_public",
    "fund_list_public",
    "fund_overview_public",
    "project_ids_public",
]

SHANGHAI = ZoneInfo("Asia/Shanghai")
ZERO = Decimal("0.00")
CENT = Decimal("0.01")
_MONEY = DecimalField(max_digits=16, decimal_places=2)
_HOURS = DecimalField(max_digits=12, decimal_places=1)


def _sum(field: str, *, output=_MONEY, **condition) -> Coalesce:
    """SUM of a column over the rows matching `condition`, 0 when there are none."""
    return Coalesce(
        Sum(field, filter=Q(**condition) if condition else None),
        Decimal("0"),
        output_field=output,
    )


def _cents(value) -> Decimal:
    """An amount summed by the database, to the cent (SQLite drops trailing zeros)."""
    return Decimal(value or 0).quantize(CENT)


@dataclass(frozen=True)
class Share:
    """What was paid out to one category (service type) or one street."""

    name: str
    count: int
    funds: Decimal
    goods: Decimal

    @property
    def total(self) -> Decimal:
        return self.funds + self.goods


@dataclass(frozen=True)
class MonthFigures:
    """One month: donations kept (refunded ones left out) and payments made."""

    month: datetime.date
    money_in: Decimal
    goods_in: Decimal
    money_out: Decimal
    goods_out: Decimal

    @property
    def label(self) -> str:
        return f"{self.month:%Y-%m}"

    @property
    def total_in(self) -> Decimal:
        return self.money_in + self.goods_in

    @property
    def total_out(self) -> Decimal:
        return self.money_out + self.goods_out


@dataclass(frozen=True)
class DisbursementRow:
    """One paid disbursement as the public sees it."""

    paid_on: datetime.date
    category: str
    street: str
    kind: str
    kind_label: str
    amount: Decimal
    item: str
    quantity: int | None
    purpose: str


@dataclass(frozen=True)
class DonationRow:
    """One donation as the public sees it (`value` is the amount or the goods' valuation)."""

    received_on: datetime.date
    receipt_no: str
    donor: str
    kind: str
    kind_label: str
    value: Decimal | None
    item: str
    quantity: int | None
    unit: str
    service_description: str
    service_hours: Decimal | None
    refunded: bool


class Rows:
    """A lazily read, ordered list of public rows over a `values()` queryset: the paginator
    counts and slices it in SQL, an export walks it once."""

    def __init__(self, queryset: QuerySet, make: Callable[[dict[str, Any]], Any]) -> None:
        self._queryset = queryset
        self._make = make

    def count(self) -> int:
        return self._queryset.count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self._make(row) for row in self._queryset[index]]
        return self._make(self._queryset[index])

    def __iter__(self) -> Iterator:
        return (self._make(row) for row in self._queryset.iterator(chunk_size=2000))


@dataclass(frozen=True)
class Disclosure:
    """The public figures of a set of funds (one fund, or a project's funds)."""

    funds: tuple[Fund, ...]
    money_received: Decimal
    money_refunded: Decimal
    goods_in: Decimal
    donation_count: int
    service_pledges: int
    service_hours: Decimal
    money_out: Decimal
    goods_out: Decimal
    disbursement_count: int
    cash_balance: Decimal
    goods_balance: Decimal
    by_category: tuple[Share, ...]
    by_street: tuple[Share, ...]
    months: tuple[MonthFigures, ...]
    disbursements: Rows
    donations: Rows

    @property
    def money_in(self) -> Decimal:
        """Money donated, less what was given back."""
        return self.money_received - self.money_refunded

    @property
    def total_out(self) -> Decimal:
        return self.money_out + self.goods_out

    @property
    def balance(self) -> Decimal:
        return self.cash_balance + self.goods_balance

    def chart_data(self) -> dict[str, Any]:
        """The figures the charts draw, as JSON-safe strings (the tables show the same)."""
        return {
            "months": [
                {"label": m.label, "in": str(m.total_in), "out": str(m.total_out)}
                for m in self.months
            ],
            "categories": [{"name": s.name, "value": str(s.total)} for s in self.by_category],
            "streets": [{"name": s.name, "value": str(s.total)} for s in self.by_street],
        }


@dataclass(frozen=True)
class FundOverview:
    """One fund on the disclosure index: what it holds, received and paid out."""

    fund: Fund
    cash_balance: Decimal
    goods_balance: Decimal
    received: Decimal
    paid_out: Decimal
    project_public: bool

    @property
    def balance(self) -> Decimal:
        return self.cash_balance + self.goods_balance


@dataclass(frozen=True)
class FundsOverview:
    """Every fund on the disclosure index, and their sums."""

    rows: tuple[FundOverview, ...]

    @property
    def balance(self) -> Decimal:
        return sum((r.balance for r in self.rows), ZERO)

    @property
    def received(self) -> Decimal:
        return sum((r.received for r in self.rows), ZERO)

    @property
    def paid_out(self) -> Decimal:
        return sum((r.paid_out for r in self.rows), ZERO)


def fund_list_public() -> QuerySet[Fund]:
    """Every fund, with organisation, project and accounts loaded: the public sees each
    fund's disclosure."""
    return Fund.objects.select_related("organisation", "project").prefetch_related("accounts")


def fund_get_public(*, code: str) -> Fund:
    """One fund by its code, or 404."""
    fund = fund_list_public().filter(code=code).first()
    if fund is None:
        raise Http404
    return fund


def project_ids_public(*, ids: Iterable[int]) -> set[int]:
    """Which of these projects are published and public (so their disclosure may be linked)."""
    ids = {i for i in ids if i}
    if not ids:
        return set()
    return set(
        project_list_public().prefetch_related(None).filter(pk__in=ids).values_list("pk", flat=True)
    )


def fund_overview_public() -> FundsOverview:
    """Every fund with its balance, what it received (donations net of refunds) and what it
    paid out, read from the ledger's account balances."""
    funds = list(fund_list_public())
    public = project_ids_public(ids=(f.project_id for f in funds))
    overview = []
    for fund in funds:
        balances = {a.kind: a.balance for a in fund.accounts.all()}
        overview.append(
            FundOverview(
                fund=fund,
                cash_balance=balances.get(Account.Kind.CASH, ZERO),
                goods_balance=balances.get(Account.Kind.GOODS, ZERO),
                # The donations account carries a credit (negative) balance.
                received=-balances.get(Account.Kind.DONATIONS, ZERO),
                paid_out=balances.get(Account.Kind.PAID_OUT, ZERO),
                project_public=fund.project_id in public,
            )
        )
    return FundsOverview(rows=tuple(overview))


def _month_starts(*, months: int, today: datetime.date) -> list[datetime.date]:
    year, month = today.year, today.month
    starts = []
    for _ in range(months):
        starts.append(datetime.date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return starts[::-1]


def _disbursement_row(row: dict[str, Any]) -> DisbursementRow:
    return DisbursementRow(
        paid_on=row["paid_on"],
        category=row["category__name"],
        street=row["street__name"],
        kind=row["kind"],
        kind_label=str(Disbursement.Kind(row["kind"]).label),
        amount=row["amount"],
        item=row["item"],
        quantity=row["quantity"],
        purpose=row["purpose"],
    )


def _donation_row(row: dict[str, Any]) -> DonationRow:
    kind = row["kind"]
    donor = Donation(donor_kind=row["donor_kind"], donor_name=row["donor_name"]).public_donor
    value = {Donation.Kind.MONEY: row["amount"], Donation.Kind.GOODS: row["valuation"]}
    return DonationRow(
        received_on=row["received_on"],
        receipt_no=row["receipt_no"],
        donor=donor,
        kind=kind,
        kind_label=str(Donation.Kind(kind).label),
        value=value.get(kind),
        item=row["item"],
        quantity=row["quantity"],
        unit=row["unit"],
        service_description=row["service_description"],
        service_hours=row["service_hours"],
        refunded=row["refund_transaction"] is not None,
    )


def _shares(paid: QuerySet[Disbursement], field: str) -> tuple[Share, ...]:
    rows = (
        paid.values(field)
        .annotate(
            n=Count("pk"),
            funds=_sum("amount", kind=Disbursement.Kind.FUNDS),
            goods=_sum("amount", kind=Disbursement.Kind.GOODS),
        )
        .order_by(field)
    )
    shares = [
        Share(name=r[field], count=r["n"], funds=_cents(r["funds"]), goods=_cents(r["goods"]))
        for r in rows
    ]
    return tuple(sorted(shares, key=lambda s: (-s.total, s.name)))


def disclosure_for_funds(
    funds: Iterable[Fund], *, months: int = 12, today: datetime.date | None = None
) -> Disclosure:
    """The public figures of these funds: donations in (money net of refunds, goods at their
    valuation, service pledges), paid disbursements out (pending and rejected ones are not
    money out), out by category and by street, balances, the last `months` months, and the
    de-identified rows. A project's disclosure is that of its funds."""
    funds = tuple(funds)
    fund_ids = [f.pk for f in funds]
    today = today or timezone.localdate(timezone=SHANGHAI)
    starts = _month_starts(months=months, today=today)
    since = starts[0]

    donations = Donation.objects.filter(fund_id__in=fund_ids)
    kept = {"refund_transaction__isnull": True}
    gone = {"refund_transaction__isnull": False}
    d = donations.aggregate(
        money_received=_sum("amount", kind=Donation.Kind.MONEY),
        money_refunded=_sum("amount", kind=Donation.Kind.MONEY, **gone),
        goods_in=_sum("valuation", kind=Donation.Kind.GOODS, **kept),
        donation_count=Count(
            "pk", filter=Q(kind__in=[Donation.Kind.MONEY, Donation.Kind.GOODS], **kept)
        ),
        service_pledges=Count("pk", filter=Q(kind=Donation.Kind.SERVICE)),
        service_hours=_sum("service_hours", output=_HOURS, kind=Donation.Kind.SERVICE),
    )

    paid = Disbursement.objects.filter(fund_id__in=fund_ids, status=Disbursement.Status.PAID)
    by_category = _shares(paid, "category__name")
    by_street = _shares(paid, "street__name")

    balances = dict(
        Account.objects.filter(fund_id__in=fund_ids, kind__in=Account.ASSETS)
        .values("kind")
        .annotate(total=_sum("balance"))
        .values_list("kind", "total")
    )

    month_in = (
        donations.filter(received_on__gte=since, **kept)
        .annotate(month=TruncMonth("received_on"))
        .values("month")
        .annotate(
            money=_sum("amount", kind=Donation.Kind.MONEY),
            goods=_sum("valuation", kind=Donation.Kind.GOODS),
        )
        .order_by("month")
    )
    month_out = (
        paid.filter(paid_at__gte=datetime.datetime.combine(since, datetime.time(), SHANGHAI))
        .annotate(month=TruncMonth("paid_at", tzinfo=SHANGHAI, output_field=DateField()))
        .values("month")
        .annotate(
            money=_sum("amount", kind=Disbursement.Kind.FUNDS),
            goods=_sum("amount", kind=Disbursement.Kind.GOODS),
        )
        .order_by("month")
    )
    ins = {_as_date(r["month"]): r for r in month_in}
    outs = {_as_date(r["month"]): r for r in month_out}
    series = tuple(
        MonthFigures(
            month=start,
            money_in=_cents(ins.get(start, {}).get("money")),
            goods_in=_cents(ins.get(start, {}).get("goods")),
            money_out=_cents(outs.get(start, {}).get("money")),
            goods_out=_cents(outs.get(start, {}).get("goods")),
        )
        for start in starts
    )

    disbursement_rows = Rows(
        paid.annotate(paid_on=TruncDate("paid_at", tzinfo=SHANGHAI))
        .order_by("-paid_at", "-pk")
        .values(
            "paid_on",
            "category__name",
            "street__name",
            "kind",
            "amount",
            "item",
            "quantity",
            "purpose",
        ),
        _disbursement_row,
    )
    donation_rows = Rows(
        donations.order_by("-received_on", "-pk").values(
            "received_on",
            "receipt_no",
            "donor_kind",
            "donor_name",
            "kind",
            "amount",
            "valuation",
            "item",
            "quantity",
            "unit",
            "service_description",
            "service_hours",
            "refund_transaction",
        ),
        _donation_row,
    )

    return Disclosure(
        funds=funds,
        money_received=_cents(d["money_received"]),
        money_refunded=_cents(d["money_refunded"]),
        goods_in=_cents(d["goods_in"]),
        donation_count=d["donation_count"],
        service_pledges=d["service_pledges"],
        service_hours=Decimal(d["service_hours"]).quantize(Decimal("0.1")),
        money_out=sum((s.funds for s in by_category), ZERO),
        goods_out=sum((s.goods for s in by_category), ZERO),
        disbursement_count=sum(s.count for s in by_category),
        cash_balance=_cents(balances.get(Account.Kind.CASH)),
        goods_balance=_cents(balances.get(Account.Kind.GOODS)),
        by_category=by_category,
        by_street=by_street,
        months=series,
        disbursements=disbursement_rows,
        donations=donation_rows,
    )


def _as_date(value) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return (
            timezone.localtime(value, SHANGHAI).date() if timezone.is_aware(value) else value.date()
        )
    return value
