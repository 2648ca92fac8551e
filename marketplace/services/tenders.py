"""Writes of tenders and sealed bids: civil affairs drafts a tender (lots, criteria),
publishes it, answers questions and cancels it; agencies ask questions and submit, revise
or withdraw sealed bids while the window is open; the opening decrypts the bids after the
close.

The bid window is judged by the server clock inside a lock on the tender row, and the
opening takes the same lock: a bid racing the close is either refused as late or committed
before the opening reads the bids, never lost and never half-opened."""

from __future__ import annotations

import hashlib
import io
import json
import uuid
import zipfile
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from marketplace import crypto
from marketplace.exceptions import InvalidState, NotPermitted
from marketplace.models import (
    Area,
    Bid,
    CatalogueItem,
    Criterion,
    Lot,
    Organisation,
    Role,
    Tender,
    TenderQuestion,
    User,
)
from marketplace.selectors.directory import user_scope
from marketplace.selectors.tenders import (
    AGENCY_KINDS,
    agency_reasons,
    bid_sealed_payload,
    team_reasons,
    user_is_agency_staff,
)
from search.public import schedule_reindex

__all__ = [
    "DECLARATIONS",
    "BidWindowClosed",
    "bid_revise",
    "bid_submit",
    "bid_withdraw",
    "criterion_add",
    "criterion_remove",
    "lot_add",
    "lot_remove",
    "plan_check",
    "question_answer",
    "question_ask",
    "tender_cancel",
    "tender_create",
    "tender_open",
    "tender_open_due",
    "tender_publish",
    "tender_update",
]

# The declarations a bidder makes, each required.
DECLARATIONS = ("info_true", "no_collusion", "no_debarment")
DECLARATION_LABELS = {
    "info_true": gettext_lazy("所填信息及材料真实有效"),
    "no_collusion": gettext_lazy("未与其他投标人串通投标"),
    "no_debarment": gettext_lazy("未被列入失信名单或禁止参加政府采购"),
}
TENDER_FIELDS = {
    "reference",
    "title",
    "year",
    "scope",
    "qualification_requirements",
    "enquiry_ends_at",
    "bid_opens_at",
    "bid_closes_at",
    "standstill_days",
}
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
CENT = Decimal("0.01")


class BidWindowClosed(InvalidState):
    """The bid window is not open at this moment (server time)."""

    code = "bid_window_closed"


# --- Helpers ----------------------------------------------------------------------------


def _buyer_of(by: User) -> Organisation:
    """The civil-affairs organisation the official acts for; NotPermitted for anyone else."""
    for m in user_scope(user=by).memberships:
        if m.role == Role.CIVIL_AFFAIRS_OFFICIAL and m.organisation_id:
            return m.organisation
    raise NotPermitted(_("只有民政干部可以管理采购项目。"))


def _locked(tender: Tender) -> Tender:
    return Tender.objects.select_for_update().get(pk=tender.pk)


def _require_draft(tender: Tender) -> None:
    if tender.status != Tender.Status.DRAFT:
        raise InvalidState(_("采购项目已发布，不能再修改。"))


def _text(value: str | None) -> str:
    return (value or "").strip()


# --- Drafting ---------------------------------------------------------------------------


@transaction.atomic
def tender_create(
    *,
    by: User,
    reference: str,
    title: str,
    year: int,
    scope: str,
    qualification_requirements: str,
    enquiry_ends_at,
    bid_opens_at,
    bid_closes_at,
    standstill_days: int = 7,
) -> Tender:
    """Draft a tender of the official's civil-affairs bureau."""
    buyer = _buyer_of(by)
    tender = Tender(
        reference=_text(reference),
        title=_text(title),
        year=year,
        buyer=buyer,
        scope=_text(scope),
        qualification_requirements=_text(qualification_requirements),
        enquiry_ends_at=enquiry_ends_at,
        bid_opens_at=bid_opens_at,
        bid_closes_at=bid_closes_at,
        standstill_days=standstill_days,
        created_by=by,
    )
    tender.full_clean()
    tender.save()
    return tender


@transaction.atomic
def tender_update(*, tender: Tender, by: User, **fields) -> Tender:
    """Change a draft's own fields (lots and criteria have their own services)."""
    unknown = set(fields) - TENDER_FIELDS
    if unknown:
        raise TypeError(f"tender_update: not editable: {sorted(unknown)}")
    _buyer_of(by)
    tender = _locked(tender)
    _require_draft(tender)
    for name, value in fields.items():
        setattr(tender, name, _text(value) if isinstance(value, str) else value)
    tender.full_clean()
    tender.save()
    return tender


@transaction.atomic
def lot_add(
    *,
    tender: Tender,
    by: User,
    title: str,
    street: Area,
    catalogue_item: CatalogueItem,
    quantity: int,
    budget: Decimal,
    min_team_size: int = 1,
) -> Lot:
    """Add the next lot (numbered 1..n) of a draft: one street buying a quantity of a live
    catalogue item, within the guidance price."""
    _buyer_of(by)
    tender = _locked(tender)
    _require_draft(tender)
    number = (tender.lots.aggregate(n=Max("number"))["n"] or 0) + 1
    lot = Lot(
        tender=tender,
        number=number,
        title=_text(title),
        street=street,
        catalogue_item=catalogue_item,
        quantity=quantity,
        budget=budget,
        min_team_size=min_team_size,
    )
    lot.full_clean()
    ceiling = catalogue_item.guidance_price * quantity
    if budget > ceiling:
        raise ValidationError(
            {
                "budget": _("标段预算超过目录指导价×采购数量（%(price)s × %(q)s = %(max)s 元）。")
                % {"price": catalogue_item.guidance_price, "q": quantity, "max": ceiling}
            }
        )
    lot.save()
    return lot


@transaction.atomic
def lot_remove(*, lot: Lot, by: User) -> None:
    """Remove a lot of a draft; the lots after it move up so numbers stay 1..n."""
    _buyer_of(by)
    tender = _locked(lot.tender)
    _require_draft(tender)
    number = lot.number
    Lot.objects.filter(pk=lot.pk).delete()
    # Ascending, so each number is free when the next lot moves into it.
    for later in tender.lots.filter(number__gt=number).order_by("number"):
        later.number -= 1
        later.save(update_fields=["number"])


@transaction.atomic
def criterion_add(
    *, tender: Tender, by: User, kind: str, name: str, weight: int, guidance: str = ""
) -> Criterion:
    """Add an evaluation criterion to a draft (one price criterion at most)."""
    _buyer_of(by)
    tender = _locked(tender)
    _require_draft(tender)
    if kind == Criterion.Kind.PRICE and tender.criteria.filter(kind=kind).exists():
        raise ValidationError({"kind": _("已有价格评分项，每个项目只能有一个。")})
    position = (tender.criteria.aggregate(p=Max("position"))["p"] or 0) + 1
    criterion = Criterion(
        tender=tender,
        kind=kind,
        name=_text(name),
        weight=weight,
        guidance=_text(guidance),
        position=position,
    )
    criterion.full_clean()
    criterion.save()
    return criterion


@transaction.atomic
def criterion_remove(*, criterion: Criterion, by: User) -> None:
    """Remove a criterion of a draft."""
    _buyer_of(by)
    tender = _locked(criterion.tender)
    _require_draft(tender)
    Criterion.objects.filter(pk=criterion.pk).delete()


@transaction.atomic
def tender_publish(*, tender: Tender, by: User) -> Tender:
    """Publish a complete draft: at least one lot of a live catalogue item, weights summing
    to 100 with exactly one price criterion and at least one other, a close in the future
    and the enquiry period ending by it. Every problem is named; nothing changes."""
    _buyer_of(by)
    tender = _locked(tender)
    _require_draft(tender)
    now = timezone.now()
    problems = []
    lots = list(tender.lots.select_related("catalogue_item"))
    criteria = list(tender.criteria.all())
    if not lots:
        problems.append(_("请至少添加一个标段。"))
    for lot in lots:
        if not lot.catalogue_item.live:
            problems.append(_("第%(n)s标段的目录条目已撤回发布，请更换。") % {"n": lot.number})
    total = sum(c.weight for c in criteria)
    if total != 100:
        problems.append(_("评分项权重合计须为100，当前为%(total)s。") % {"total": total})
    prices = [c for c in criteria if c.kind == Criterion.Kind.PRICE]
    if len(prices) != 1:
        problems.append(_("须有且只有一个价格评分项。"))
    if len(criteria) - len(prices) < 1:
        problems.append(_("除价格外，至少还需要一个评分项（如服务方案）。"))
    if tender.bid_closes_at <= now:
        problems.append(_("投标截止时间已过，请先修改为将来的时间。"))
    if tender.enquiry_ends_at > tender.bid_closes_at:
        problems.append(_("答疑截止时间不能晚于投标截止时间。"))
    if problems:
        raise ValidationError(problems)
    tender.status = Tender.Status.PUBLISHED
    tender.published_at = now
    tender.published_by = by
    tender.save(update_fields=["status", "published_at", "published_by"])
    schedule_reindex(doc_type="tender", object_id=tender.pk)
    return tender


@transaction.atomic
def tender_cancel(*, tender: Tender, by: User, reason: str) -> Tender:
    """Terminate a tender before its opening, with the reason; every lot fails and the bids
    stay sealed."""
    _buyer_of(by)
    tender = _locked(tender)
    if tender.status not in {Tender.Status.DRAFT, Tender.Status.PUBLISHED}:
        raise InvalidState(_("已开标的项目不能终止。"))
    reason = _text(reason)
    if not reason:
        raise ValidationError({"reason": _("请填写终止原因。")})
    if len(reason) > 200:
        raise ValidationError({"reason": _("终止原因不能超过200字。")})
    tender.status = Tender.Status.CANCELLED
    tender.cancelled_reason = reason
    tender.save(update_fields=["status", "cancelled_reason"])
    tender.lots.update(status=Lot.Status.FAILED)
    schedule_reindex(doc_type="tender", object_id=tender.pk)
    return tender


# --- Enquiries --------------------------------------------------------------------------


@transaction.atomic
def question_ask(
    *, tender: Tender, by: User, organisation: Organisation, question: str
) -> TenderQuestion:
    """Ask a question in the enquiry period, as staff of a verified agency or station."""
    if organisation.kind not in AGENCY_KINDS or not organisation.verified:
        raise NotPermitted(_("只有已认证的社会工作服务机构或社工站可以提问。"))
    if not user_is_agency_staff(user=by, organisation=organisation):
        raise NotPermitted(_("您不是该机构的工作人员。"))
    tender = _locked(tender)
    if tender.status != Tender.Status.PUBLISHED or timezone.now() >= tender.enquiry_ends_at:
        raise InvalidState(_("答疑期已结束，不能再提问。"))
    text = _text(question)
    if not text:
        raise ValidationError({"question": _("请填写问题。")})
    item = TenderQuestion(tender=tender, organisation=organisation, asked_by=by, question=text)
    item.full_clean()
    item.save()
    return item


@transaction.atomic
def question_answer(*, question: TenderQuestion, by: User, answer: str) -> TenderQuestion:
    """Answer a question; the answer is published to every bidder without the asker."""
    _buyer_of(by)
    question = TenderQuestion.objects.select_for_update().get(pk=question.pk)
    if question.answer:
        raise InvalidState(_("该问题已答复。"))
    if question.tender.status != Tender.Status.PUBLISHED:
        raise InvalidState(_("项目不在公告期，不能答复。"))
    text = _text(answer)
    if not text:
        raise ValidationError({"answer": _("请填写答复内容。")})
    question.answer = text
    question.answered_by = by
    question.answered_at = timezone.now()
    question.full_clean()
    question.save(update_fields=["answer", "answered_by", "answered_at"])
    return question


# --- Sealed bids ------------------------------------------------------------------------


def _window_locked(tender_id: int) -> Tender:
    """Lock the tender and judge the window by the clock read after the lock is held."""
    tender = Tender.objects.select_for_update().get(pk=tender_id)
    now = timezone.now()
    if tender.status == Tender.Status.PUBLISHED and tender.bid_opens_at <= now:
        if now < tender.bid_closes_at:
            return tender
        raise BidWindowClosed(_("投标已截止。"))
    if tender.status == Tender.Status.PUBLISHED:
        raise BidWindowClosed(_("尚未开始接受投标。"))
    raise BidWindowClosed(_("投标已截止。"))


def _is_docx(content: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile:
        return False
    return "[Content_Types].xml" in names and any(n.startswith("word/") for n in names)


def plan_check(upload: UploadedFile | None, *, required: bool = True) -> bytes | None:
    """The plan document's content, if it is a PDF or DOCX (judged by content) within the
    size limit; errors are keyed on `plan`."""
    if upload is None:
        if required:
            raise ValidationError({"plan": _("请上传服务方案文件（PDF 或 DOCX）。")})
        return None
    limit = settings.PROCUREMENT_PLAN_MAX_BYTES
    if upload.size > limit:
        raise ValidationError(
            {"plan": _("服务方案文件过大：最大%(max)s MB。") % {"max": limit // (1024 * 1024)}}
        )
    upload.seek(0)
    content = upload.read()
    upload.seek(0)
    if not content:
        raise ValidationError({"plan": _("服务方案文件是空的。")})
    import filetype

    kind = filetype.guess(content[:8192])
    mime = kind.mime if kind else None
    if mime in (None, "application/zip") and _is_docx(content):
        mime = DOCX
    if mime not in settings.PROCUREMENT_PLAN_CONTENT_TYPES:
        raise ValidationError({"plan": _("服务方案只接受 PDF 或 Word（DOCX）文件。")})
    return content


def _price(value, lot: Lot) -> Decimal:
    try:
        price = Decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationError({"price": _("请填写有效的报价金额。")}) from None
    if not price.is_finite() or price <= 0:
        raise ValidationError({"price": _("报价必须大于0。")})
    if price != price.quantize(CENT):
        raise ValidationError({"price": _("报价最多保留两位小数。")})
    if price > lot.budget:
        raise ValidationError(
            {"price": _("报价超过标段预算（%(budget)s 元）。") % {"budget": lot.budget}}
        )
    return price.quantize(CENT)


def _declarations(declarations: dict) -> dict:
    missing = {
        name: _("请确认：%(text)s。") % {"text": DECLARATION_LABELS[name]}
        for name in DECLARATIONS
        if declarations.get(name) is not True
    }
    if missing:
        raise ValidationError(missing)
    return {name: True for name in DECLARATIONS}


def _check_bidder(*, lot: Lot, agency: Organisation, by: User, team: list[User]) -> None:
    reasons = agency_reasons(lot=lot, agency=agency, user=by)
    if reasons:
        raise NotPermitted("".join(reasons))
    problems = team_reasons(lot=lot, agency=agency, team=team)
    if problems:
        raise ValidationError({"team": problems})


def _seal(bid: Bid, *, price: Decimal, team: list[User], declarations: dict, name, digest):
    payload = {
        "price": str(price),
        "team": [u.pk for u in team],
        "declarations": declarations,
        "plan_name": name,
        "plan_sha256": digest,
    }
    return crypto.encrypt(
        json.dumps(payload, ensure_ascii=False, sort_keys=True), purpose=f"bid.sealed:{bid.pk}"
    )


def _store_plan(bid: Bid, content: bytes) -> None:
    """Write the encrypted plan under a random name that says nothing about the bid; a
    replaced file is removed once the new one is committed."""
    old = bid.plan_file.name if bid.plan_file else ""
    blob = crypto.encrypt_bytes(content, purpose=f"bid.plan:{bid.pk}")
    bid.plan_file.save(uuid.uuid4().hex, ContentFile(blob), save=False)
    if old:
        storage = bid.plan_file.storage
        transaction.on_commit(lambda: storage.delete(old))


def _plan_name(upload: UploadedFile) -> str:
    name = (upload.name or "plan").replace("\\", "/").rsplit("/", 1)[-1]
    return name[-200:]


@transaction.atomic
def bid_submit(
    *,
    lot: Lot,
    by: User,
    agency: Organisation,
    price,
    plan: UploadedFile | None,
    team: list[User],
    declarations: dict,
) -> Bid:
    """Submit a sealed bid on a lot while the window is open (server time, under the
    tender's lock). Only ciphertext is stored; the plain fields wait for the opening."""
    _window_locked(lot.tender_id)
    lot = Lot.objects.select_related("tender", "catalogue_item").get(pk=lot.pk)
    if lot.status != Lot.Status.OPEN:
        raise InvalidState(_("该标段已不接受投标。"))
    team = list(team)
    _check_bidder(lot=lot, agency=agency, by=by, team=team)
    amount = _price(price, lot)
    declared = _declarations(declarations)
    content = plan_check(plan)
    if Bid.objects.filter(lot=lot, agency=agency, status=Bid.Status.SUBMITTED).exists():
        raise ValidationError(_("本机构已对该标段投标，请修改原投标。"))
    now = timezone.now()
    bid = Bid(
        lot=lot,
        agency=agency,
        submitted_by=by,
        submitted_at=now,
        revised_at=now,
        sealed="",
    )
    bid.full_clean(exclude=["sealed", "plan_file"])
    bid.save()
    bid.sealed = _seal(
        bid,
        price=amount,
        team=team,
        declarations=declared,
        name=_plan_name(plan),
        digest=hashlib.sha256(content).hexdigest(),
    )
    _store_plan(bid, content)
    bid.save(update_fields=["sealed", "plan_file"])
    return bid


def _own_live_bid(bid: Bid, by: User) -> Bid:
    bid = Bid.objects.select_for_update().select_related("lot", "agency").get(pk=bid.pk)
    if not user_is_agency_staff(user=by, organisation=bid.agency_id):
        raise NotPermitted(_("只能修改或撤回本机构的投标。"))
    if bid.status != Bid.Status.SUBMITTED:
        raise InvalidState(_("该投标已撤回。"))
    return bid


@transaction.atomic
def bid_revise(
    *,
    bid: Bid,
    by: User,
    price,
    plan: UploadedFile | None = None,
    team: list[User],
    declarations: dict,
) -> Bid:
    """Replace the sealed content of the agency's own bid while the window is open; without
    a new plan the sealed one is kept."""
    _window_locked(bid.lot.tender_id)
    bid = _own_live_bid(bid, by)
    team = list(team)
    _check_bidder(lot=bid.lot, agency=bid.agency, by=by, team=team)
    amount = _price(price, bid.lot)
    declared = _declarations(declarations)
    content = plan_check(plan, required=False)
    previous = bid_sealed_payload(bid)
    if content is None:
        name, digest = previous["plan_name"], previous["plan_sha256"]
    else:
        name, digest = _plan_name(plan), hashlib.sha256(content).hexdigest()
        _store_plan(bid, content)
    bid.sealed = _seal(
        bid, price=amount, team=team, declarations=declared, name=name, digest=digest
    )
    bid.revision += 1
    bid.revised_at = timezone.now()
    bid.save(update_fields=["sealed", "plan_file", "revision", "revised_at"])
    return bid


@transaction.atomic
def bid_withdraw(*, bid: Bid, by: User) -> Bid:
    """Withdraw the agency's own bid while the window is open; it stays sealed for good and
    a new bid on the lot may follow."""
    _window_locked(bid.lot.tender_id)
    bid = _own_live_bid(bid, by)
    bid.status = Bid.Status.WITHDRAWN
    bid.revised_at = timezone.now()
    bid.save(update_fields=["status", "revised_at"])
    return bid


# --- Opening ----------------------------------------------------------------------------


@transaction.atomic
def tender_open(*, tender: Tender, by: User | None = None) -> Tender:
    """开标: after the close, decrypt every submitted bid into its plain fields; lots without
    a bid fail. Withdrawn bids stay sealed. A second call changes nothing. `by` is None when
    the schedule opens it."""
    if by is not None:
        _buyer_of(by)
    tender = _locked(tender)
    if tender.status in {Tender.Status.OPENED, Tender.Status.COMPLETE}:
        return tender
    if tender.status != Tender.Status.PUBLISHED:
        raise InvalidState(_("该项目未发布或已终止，不能开标。"))
    now = timezone.now()
    if now < tender.bid_closes_at:
        raise InvalidState(_("投标尚未截止，不能开标。"))
    bids = list(
        Bid.objects.select_for_update()
        .filter(lot__tender=tender, status=Bid.Status.SUBMITTED)
        .order_by("pk")
    )
    for bid in bids:
        data = bid_sealed_payload(bid)
        bid.price = Decimal(data["price"])
        bid.declarations = data["declarations"]
        bid.plan_name = data["plan_name"]
        bid.opened_at = now
        bid.save(update_fields=["price", "declarations", "plan_name", "opened_at"])
        bid.team.set(User.objects.filter(pk__in=data["team"]))
    with_bids = {b.lot_id for b in bids}
    tender.lots.exclude(pk__in=with_bids).update(status=Lot.Status.FAILED)
    tender.status = Tender.Status.OPENED
    tender.opened_at = now
    tender.save(update_fields=["status", "opened_at"])
    schedule_reindex(doc_type="tender", object_id=tender.pk)
    return tender


def tender_open_due() -> int:
    """Open every published tender whose window has closed; how many were opened."""
    due = Tender.objects.filter(
        status=Tender.Status.PUBLISHED, bid_closes_at__lte=timezone.now()
    ).values_list("pk", flat=True)
    opened = 0
    for pk in list(due):
        try:
            tender_open(tender=Tender(pk=pk))
        except InvalidState:
            # Cancelled between the query and the lock: nothing to open.
            continue
        opened += 1
    return opened
