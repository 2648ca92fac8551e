"""Match runs, proposals and their approval: every write of matching comes through here.

A run is started by `match_run_start` (or `match_emergency_start` / `proposal_redo` for one
need), executed by a Celery task through `match_run_execute` (snapshot → solve → store
proposals, with progress pushed to whoever started it), and its proposals are decided by the
level the approval rules name. Approval is locked on the proposal row, so concurrent
approvals make exactly one transition."""

from __future__ import annotations

import gc
import time
from contextlib import contextmanager
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from charity.models import Disbursement, Fund, ProjectPage
from charity.services.disbursements import disbursement_request
from marketplace import realtime
from marketplace.models import Area, Membership, Need, Role, User
from marketplace.selectors.directory import user_scope
from marketplace.services.cases import need_reopen, need_transition
from marketplace.services.catalogue import catalogue_editors_sync
from matching.engine import solve
from matching.exceptions import InvalidState, MatchingError, NotPermitted, RunBusy
from matching.models import ApprovalRule, Decision, Level, MatchRun, Proposal, ProposalItem
from matching.snapshot import (
    CHARITY,
    SOCIAL_WORKER,
    VOLUNTEER,
    Snapshot,
    open_needs,
    snapshot_build,
)
from volunteers.models import SocialWorker, Team, TeamMember, Volunteer
from volunteers.services.teams import (
    team_close,
    team_create,
    team_member_withdraw,
    team_members_assign,
)

SOLVE_TIME_LIMIT_S = 30.0


# --- Authority -------------------------------------------------------------------------


def approval_rule_for(*, need: Need, cross_street: bool, rules=None) -> ApprovalRule | None:
    """The first active rule (by position) whose every set condition holds for the need."""
    if rules is None:
        rules = list(ApprovalRule.objects.filter(active=True).order_by("position", "pk"))
    for rule in rules:
        if rule.min_amount is not None and not (need.amount and need.amount > rule.min_amount):
            continue
        if rule.cross_street and not cross_street:
            continue
        if rule.urgency and rule.urgency != need.urgency:
            continue
        return rule
    return None


def proposal_may_decide(*, user: User, proposal: Proposal) -> bool:
    """Street officials decide street-level proposals of their own street; civil affairs
    decides district-level proposals and, as the higher authority, street-level ones too."""
    scope = user_scope(user=user)
    if scope.has(Role.CIVIL_AFFAIRS_OFFICIAL):
        return True
    return (
        proposal.level == Level.STREET
        and scope.has(Role.STREET_OFFICIAL)
        and proposal.street_id in scope.street_ids
    )


def match_run_may_start(*, user: User, area: Area) -> bool:
    """Civil affairs runs any area; a street official runs their own street."""
    scope = user_scope(user=user)
    if scope.has(Role.CIVIL_AFFAIRS_OFFICIAL):
        return True
    return (
        area.level == Area.Level.STREET
        and scope.has(Role.STREET_OFFICIAL)
        and area.pk in scope.street_ids
    )


def approval_rule_editors_sync() -> None:
    """Let the civil-affairs admin group view, add, change and delete approval rules.
    Idempotent; puts back what a flushed database lost (permissions get new ids)."""
    group = catalogue_editors_sync()
    content_type = ContentType.objects.get_for_model(ApprovalRule)
    for action in ("view", "add", "change", "delete"):
        permission, _created = Permission.objects.get_or_create(
            content_type=content_type,
            codename=f"{action}_approvalrule",
            defaults={"name": f"Can {action} approval rule"},
        )
        group.permissions.add(permission)


# --- Runs ------------------------------------------------------------------------------


def _district() -> Area:
    return Area.objects.select_for_update().get(level=Area.Level.DISTRICT)


@transaction.atomic
def match_run_start(
    *, requested_by: User | None, area: Area, kind: str = MatchRun.Kind.MANUAL
) -> MatchRun:
    """Record a run over a street or the district and queue it; every entry point (page,
    beat) comes through here. Refused while a run over an overlapping area is queued or
    running: the district row lock serialises concurrent starts, so only one proceeds."""
    if area.level not in (Area.Level.STREET, Area.Level.DISTRICT):
        raise MatchingError(_("匹配范围只能是街道或全区。"), code="bad_area")
    if requested_by is not None and not match_run_may_start(user=requested_by, area=area):
        raise NotPermitted(_("只有区民政局或本街道工作人员可以发起本范围的匹配。"))
    district = _district()
    busy = MatchRun.objects.filter(status__in=MatchRun.ACTIVE, need__isnull=True)
    if area.level == Area.Level.STREET:
        busy = busy.filter(area_id__in=[area.pk, district.pk])
    busy = busy.order_by("pk").first()
    if busy is not None:
        raise RunBusy(
            _("%(area)s已有正在进行的匹配运行（第%(id)s号），请等待其完成。")
            % {"area": busy.area, "id": busy.pk}
        )
    run = MatchRun(requested_by=requested_by, area=area, kind=kind)
    run.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            run.save()
    except IntegrityError as exc:  # a start that slipped past the lock on another backend
        raise RunBusy() from exc
    _queue(run)
    return run


def _queue(run: MatchRun) -> None:
    from matching.tasks import match_run_execute as task

    task.delay_on_commit(run_id=run.pk)


@transaction.atomic
def match_need_start(
    *, need: Need, requested_by: User | None, kind: str = MatchRun.Kind.EMERGENCY
) -> MatchRun | None:
    """A run for one need on its own (an emergency, or another proposal asked for), against
    the whole district's supply; None when the need is no longer open or already waits for
    a decision."""
    need = Need.objects.select_for_update().get(pk=need.pk)
    if need.status != Need.Status.OPEN:
        return None
    if need.proposals.filter(status=Proposal.Status.PENDING).exists():
        return None
    if MatchRun.objects.filter(need=need, status__in=MatchRun.ACTIVE).exists():
        return None
    run = MatchRun(requested_by=requested_by, area_id=need.street_id, need=need, kind=kind)
    run.full_clean(validate_constraints=False)
    run.save()
    _queue(run)
    return run


def match_emergency_start(*, need_id: int) -> MatchRun | None:
    """Match an emergency need at once, without waiting for the batch."""
    need = Need.objects.filter(pk=need_id, urgency=Need.Urgency.EMERGENCY).first()
    if need is None:
        return None
    return match_need_start(need=need, requested_by=None, kind=MatchRun.Kind.EMERGENCY)


def match_run_nightly() -> MatchRun | None:
    """The nightly district run (beat); skipped, not failed, while another run is busy."""
    district = Area.objects.filter(level=Area.Level.DISTRICT).first()
    if district is None:
        return None
    try:
        return match_run_start(requested_by=None, area=district, kind=MatchRun.Kind.NIGHTLY)
    except RunBusy:
        return None


def _progress(run: MatchRun, percent: int, stage: str, **fields) -> None:
    """Save progress outside any transaction and push it to whoever started the run."""
    run.progress, run.stage = percent, stage
    for name, value in fields.items():
        setattr(run, name, value)
    MatchRun.objects.filter(pk=run.pk).update(progress=percent, stage=stage, **fields)
    if run.requested_by_id:
        realtime.publish_to_users(
            [run.requested_by_id],
            {
                "event": "match_run.progress",
                "run": {
                    "id": run.pk,
                    "status": run.status,
                    "progress": percent,
                    "stage": stage,
                    "proposals": run.proposals_count,
                },
            },
        )


def match_run_execute(*, run_id: int) -> MatchRun | None:
    """Execute a queued run: snapshot → solve → store proposals. Idempotent: a run that is
    gone or no longer queued is left alone. A failure is recorded on the run, nothing is
    half-stored (proposals are written in one transaction)."""
    claimed = MatchRun.objects.filter(pk=run_id, status=MatchRun.Status.QUEUED).update(
        status=MatchRun.Status.RUNNING, started_at=timezone.now(), stage=_("读取需求与资源")
    )
    if not claimed:
        return None
    run = MatchRun.objects.select_related("area", "need").get(pk=run_id)
    timings: dict[str, float] = {}
    began = time.perf_counter()
    try:
        with _gc_paused():
            _progress(run, 5, _("读取需求与资源"))
            mark = time.perf_counter()
            snap = snapshot_build(area=run.area, need_id=run.need_id)
            timings["snapshot"] = round(time.perf_counter() - mark, 3)
            problem = snap.problem
            _progress(
                run,
                40,
                _("求解最优方案"),
                needs_count=len(problem.needs),
                slots_count=sum(n.total_slots for n in problem.needs),
                providers_count=len(problem.providers),
                edges_count=len(problem.edges),
            )
            mark = time.perf_counter()
            # The snapshot builds the problem itself (columns, not JSON): no round trip through
            # the file format, whose validation is for problems from outside.
            # Above city size the problem is split by street, carrying each provider's
            # remaining capacity from tile to tile; a district is solved whole and exact.
            tiled = len(problem.needs) >= settings.MATCHING_TILE_MIN_NEEDS
            solution = solve(problem, time_limit_s=SOLVE_TIME_LIMIT_S, tiled=tiled)
            timings["solve"] = round(time.perf_counter() - mark, 3)
            if solution.status == "UNKNOWN":
                raise MatchingError(_("求解器未能在时限内给出方案。"), code="no_solution")
            _progress(run, 75, _("保存匹配方案"))
            mark = time.perf_counter()
            count = _store(run, snap, solution)
            timings["store"] = round(time.perf_counter() - mark, 3)
    except Exception as exc:
        run.status = MatchRun.Status.FAILED
        MatchRun.objects.filter(pk=run.pk).update(
            status=MatchRun.Status.FAILED,
            error=str(getattr(exc, "message", exc))[:300],
            finished_at=timezone.now(),
            timings=timings,
        )
        _progress(run, run.progress, _("失败"))
        if isinstance(exc, MatchingError):
            return run
        raise
    run.status = MatchRun.Status.DONE
    _progress(
        run,
        100,
        _("已完成"),
        status=MatchRun.Status.DONE,
        proposals_count=count,
        solver_status=solution.status,
        method=solution.method,
        objective=solution.objective,
        bound=solution.bound if solution.bound is not None else solution.objective,
        gap=solution.gap if solution.gap is not None else 0.0,
        seconds=round(time.perf_counter() - began, 3),
        timings=timings,
        finished_at=timezone.now(),
    )
    return run


@contextmanager
def _gc_paused():
    """Pause the cyclic garbage collector for the run (reference counting still frees
    memory). A district snapshot makes millions of small objects that all live until the
    run ends; the collector re-scanned them about ten times, near half the snapshot's CPU
    time. It is back on, and catches up, as soon as the run is stored."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@transaction.atomic
def _store(run: MatchRun, snap: Snapshot, solution) -> int:
    """One proposal per need with at least one assignment, its items with components and
    reasons, routed by the approval rules. Needs that left the pool since the snapshot
    (cancelled, already pending) are skipped under their row locks."""
    by_need: dict[str, list[str]] = {}
    for a in solution.assignments:
        by_need.setdefault(a.need, []).append(a.provider)
    if not by_need:
        return 0
    # The run's pool again, locked (a query, not ten thousand ids to bind): a need missing
    # from it now was cancelled or proposed meanwhile.
    needs = {
        n.pk: n
        for n in open_needs(area=run.area, need_id=run.need_id)
        .select_for_update()
        .only("id", "street_id", "amount", "urgency")
        .order_by("pk")  # one locking order for every run
    }
    rules = list(ApprovalRule.objects.filter(active=True).order_by("position", "pk"))
    proposals, item_sets = [], []
    now = timezone.now()
    for need_key, provider_keys in by_need.items():
        row = snap.needs[need_key]
        need = needs.get(row.id)
        if need is None:
            continue
        # Rows as {field: value}: a district run stores tens of thousands of items, and
        # model instances are built only where the database needs them (see _insert_rows).
        items = []
        for provider_key in sorted(provider_keys):
            provider = snap.supply[provider_key]
            scored = snap.explain(need_key, provider_key)
            items.append(
                {
                    "role": provider.role,
                    "volunteer_id": provider.pk if provider.role == VOLUNTEER else None,
                    "social_worker_id": provider.pk if provider.role == SOCIAL_WORKER else None,
                    "project_id": provider.pk if provider.role == CHARITY else None,
                    "contract_id": snap.contract_for(need_key, provider_key),
                    "provider_street_id": provider.street_id,
                    "cost": scored.cost,
                    "components": scored.components,
                    "reasons": list(scored.reasons),
                }
            )
        cross = any(
            i["role"] != CHARITY and i["provider_street_id"] not in (None, need.street_id)
            for i in items
        )
        rule = approval_rule_for(need=need, cross_street=cross, rules=rules)
        proposals.append(
            {
                "run_id": run.pk,
                "need_id": need.pk,
                "level": rule.level if rule else Level.STREET,
                "rule_id": rule.pk if rule else None,
                "street_id": need.street_id,
                "cost": sum(i["cost"] for i in items),
                "slots_wanted": sum(row.slots.values()),
                "slots_filled": len(items),
                "cross_street": cross,
                "created_at": now,
            }
        )
        item_sets.append(items)
    proposal_ids = _insert_rows(Proposal, proposals)
    flat = []
    for proposal_id, items in zip(proposal_ids, item_sets, strict=True):
        for item in items:
            item["proposal_id"] = proposal_id
            flat.append(item)
    _insert_rows(ProposalItem, flat)
    _notify_approvers(proposals)
    return len(proposals)


def _insert_rows(model, rows: list[dict]) -> list[int]:
    """Insert rows given as {attname: value} (the model's defaults fill the rest) and
    return their ids in order. On PostgreSQL through COPY, with ids drawn from the table's
    sequence first: `bulk_create` quotes every value of its arrays in Python, which made
    storing a district run (10,000 proposals, 25,000 items with JSON) take about 7 s
    against under 1 s. Elsewhere through `bulk_create`."""
    if not rows:
        return []
    db = connections[DEFAULT_DB_ALIAS]  # the connection itself, not the per-use proxy
    if db.vendor != "postgresql":
        created = model.objects.bulk_create([model(**row) for row in rows], batch_size=1000)
        return [obj.pk for obj in created]
    meta, quote = model._meta, db.ops.quote_name
    fields = meta.concrete_fields
    names = [f.attname for f in fields]
    # Only JSON needs the field's own adaptation; ids, text, numbers and times go to
    # psycopg as they are (preparing every value cost more than the COPY).
    json = [f for f in fields if f.get_internal_type() == "JSONField"]
    defaults = {f.attname: f.get_db_prep_save(f.get_default(), db) for f in fields}
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(rows)],
        )
        ids = [pk for (pk,) in cursor.fetchall()]
        columns = ", ".join(quote(f.column) for f in fields)
        with cursor.cursor.copy(f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN") as copy:
            for pk, row in zip(ids, rows, strict=True):
                values = defaults.copy()
                values[meta.pk.attname] = pk
                values.update(row)
                for field in json:
                    if field.attname in row:
                        values[field.attname] = field.get_db_prep_save(row[field.attname], db)
                copy.write_row([values[name] for name in names])
    return ids


def _notify_approvers(proposals: list[dict]) -> None:
    streets = {p["street_id"] for p in proposals if p["level"] == Level.STREET}
    district = any(p["level"] == Level.DISTRICT for p in proposals)
    members = Membership.objects.filter(
        Q(role=Role.STREET_OFFICIAL, organisation__street_id__in=streets)
        | (Q(role=Role.CIVIL_AFFAIRS_OFFICIAL) if district else Q(pk__in=[]))
    )
    user_ids = sorted(set(members.values_list("user_id", flat=True)))
    payload = {
        "event": "proposals.new",
        "message": _("有%(count)d个新的匹配方案待审批。") % {"count": len(proposals)},
        "url": "/matching/proposals/",
    }
    transaction.on_commit(lambda: realtime.publish_to_users(user_ids, payload))


# --- Decisions -------------------------------------------------------------------------


def _lock_pending(proposal: Proposal, by: User) -> Proposal:
    locked = (
        Proposal.objects.select_for_update(of=("self",))
        .select_related("need", "need__case")
        .get(pk=proposal.pk)
    )
    if locked.status != Proposal.Status.PENDING:
        raise InvalidState(
            _("该方案已处理（%(status)s），不能重复审批。")
            % {"status": locked.get_status_display()}
        )
    if not proposal_may_decide(user=by, proposal=locked):
        if locked.level == Level.DISTRICT:
            raise NotPermitted(_("该方案超出街道审批权限，须由区民政局审批。"))
        raise NotPermitted(_("只有需求所在街道或区民政局可以审批该方案。"))
    return locked


def _decide(proposal: Proposal, *, by: User, action: str, status: str, note: str) -> None:
    now = timezone.now()
    proposal.status = status
    proposal.decided_by, proposal.decided_at = by, now
    proposal.decision_note = note.strip()[:300]
    proposal.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    Decision.objects.create(
        proposal=proposal,
        action=action,
        level=proposal.level,
        by=by,
        note=proposal.decision_note,
        at=now,
    )


def _lock_providers(proposal: Proposal) -> None:
    """Lock the proposal's people and projects, each kind in id order (so approvals
    sharing providers queue instead of deadlocking): two approvals drawing on one person's
    last capacity then check one after the other, the second seeing the first."""
    rows = list(proposal.items.values_list("volunteer_id", "social_worker_id", "project_id"))
    for model, ids in (
        (Volunteer, {v for v, _s, _p in rows if v}),
        (SocialWorker, {s for _v, s, _p in rows if s}),
        (ProjectPage, {p for _v, _s, p in rows if p}),
    ):
        if ids:
            list(
                model.objects.select_for_update(of=("self",))
                .filter(pk__in=ids)
                .order_by("pk")
                .values_list("pk", flat=True)
            )


def _unavailable(proposal: Proposal) -> list[str]:
    """Names of providers in the proposal who can no longer take it: gone inactive, or at
    capacity with what was approved since the run."""
    problems = []
    items = list(
        proposal.items.select_related(
            "volunteer", "volunteer__user", "social_worker", "social_worker__user", "project"
        )
    )
    # What approval itself adds to: approved holds outside teams (team members are counted
    # through their teams). Other pending proposals compete only once approved.
    others = (
        ProposalItem.objects.filter(
            response__in=ProposalItem.HOLDING,
            proposal__status=Proposal.Status.APPROVED,
            proposal__team__isnull=True,
        )
        .exclude(proposal=proposal)
        # A paid place is already in the project's `places_taken`.
        .exclude(disbursement__status=Disbursement.Status.PAID)
    )
    team_loads = dict(
        TeamMember.objects.filter(active=True, team__status=Team.Status.ACTIVE)
        .filter(user_id__in=[i.provider_user_id for i in items if i.provider_user_id])
        .values("user_id")
        .annotate(n=Count("pk"))
        .values_list("user_id", "n")
    )
    for item in items:
        if item.volunteer_id:
            person, limit, user = item.volunteer, item.volunteer.max_concurrent, item.volunteer.user
            held = others.filter(volunteer_id=item.volunteer_id).count()
        elif item.social_worker_id:
            person, limit, user = (
                item.social_worker,
                item.social_worker.max_concurrent,
                item.social_worker.user,
            )
            if not item.social_worker.active:
                problems.append(_("%(name)s（已不在职）") % {"name": person.real_name})
                continue
            held = others.filter(social_worker_id=item.social_worker_id).count()
        else:
            project = item.project
            held = others.filter(project_id=item.project_id).count()
            if not project.live or project.capacity - project.places_taken - held <= 0:
                problems.append(_("%(name)s（名额已满或已下线）") % {"name": project.title})
            continue
        if not user.is_active:
            problems.append(_("%(name)s（账号已停用）") % {"name": person.real_name})
        elif held + team_loads.get(user.pk, 0) >= limit:
            problems.append(_("%(name)s（已达同时服务上限）") % {"name": person.real_name})
    return problems


@transaction.atomic
def proposal_approve(*, proposal: Proposal, by: User, note: str = "") -> Proposal:
    """Approve a pending proposal within the approver's authority: lock the row, check the
    need is still open and every provider still available, record the decision, mark the
    need matched once all its slots are held, form the 社工 + 志愿者 team (or add to the
    need's team), and after commit ask each provider to accept or decline."""
    proposal = _lock_pending(proposal, by)
    need = Need.objects.select_for_update().get(pk=proposal.need_id)
    if need.status != Need.Status.OPEN:
        raise InvalidState(
            _("需求当前为“%(status)s”，不能批准该方案。") % {"status": need.get_status_display()}
        )
    _lock_providers(proposal)
    problems = _unavailable(proposal)
    if problems:
        raise InvalidState(
            _("以下服务方已不可用：%(names)s。请驳回或要求重新匹配。")
            % {"names": _("、").join(problems)}
        )
    _decide(
        proposal, by=by, action=Decision.Action.APPROVE, status=Proposal.Status.APPROVED, note=note
    )
    items = list(
        proposal.items.select_related("volunteer", "social_worker", "project", "contract").order_by(
            "cost", "pk"
        )
    )
    ProposalItem.objects.filter(proposal=proposal).update(response=ProposalItem.Response.WAITING)
    if _slots_left(need) == 0:
        need_transition(need=need, to=Need.Status.MATCHED, by=by, reason=_("匹配方案已批准"))
    _form_team(proposal, need=need, items=items, by=by)
    _notify_providers(proposal, items)
    return proposal


def _slots_left(need: Need) -> int:
    from matching.snapshot import _slots

    wanted = sum(_slots(need.kind, need.team).values())
    held = ProposalItem.objects.filter(
        proposal__need=need,
        proposal__status=Proposal.Status.APPROVED,
        response__in=ProposalItem.HOLDING,
    ).count()
    return max(0, wanted - held)


def _form_team(proposal: Proposal, *, need: Need, items: list[ProposalItem], by: User) -> None:
    workers = [i for i in items if i.role == SOCIAL_WORKER]
    volunteers = [i.volunteer for i in items if i.role == VOLUNTEER]
    team = Team.objects.filter(need=need, status=Team.Status.ACTIVE).order_by("pk").first()
    if team is not None:
        team_members_assign(
            team=team,
            by=by,
            volunteers=volunteers,
            social_workers=[i.social_worker for i in workers],
        )
    elif workers:
        leader = workers[0]
        team = team_create(
            by=by,
            name=_("%(type)s服务队（需求%(id)s）") % {"type": need.service_type, "id": need.pk},
            leader=leader.social_worker,
            need=need,
            purpose=(need.public_description or str(need))[:200],
            volunteers=volunteers,
            social_workers=[i.social_worker for i in workers[1:]],
            contract=leader.contract,
        )
    else:
        return
    proposal.team = team
    proposal.save(update_fields=["team"])


def _charity_user_ids(project_organisation_id: int) -> list[int]:
    return sorted(
        set(
            Membership.objects.filter(
                organisation_id=project_organisation_id, role=Role.CHARITY_STAFF
            ).values_list("user_id", flat=True)
        )
    )


def _notify_providers(proposal: Proposal, items: list[ProposalItem]) -> None:
    payloads = []
    for item in items:
        if item.role == CHARITY:
            user_ids = _charity_user_ids(item.project.organisation_id)
        else:
            user_ids = [item.provider_user_id]
        payloads.append(
            (
                user_ids,
                {
                    "event": "proposal.assigned",
                    "item": item.pk,
                    "message": _("您被匹配到一项服务需求（%(need)s），请确认是否接受。")
                    % {"need": proposal.need},
                    "url": "/matching/assignments/",
                },
            )
        )

    def send():
        for user_ids, payload in payloads:
            realtime.publish_to_users(user_ids, payload)

    transaction.on_commit(send)


@transaction.atomic
def proposal_reject(*, proposal: Proposal, by: User, reason: str) -> Proposal:
    """Reject a pending proposal with a reason; its providers are not proposed again for
    this need."""
    if not (reason or "").strip():
        raise MatchingError(_("驳回须填写原因。"), code="reason_required")
    proposal = _lock_pending(proposal, by)
    _decide(
        proposal, by=by, action=Decision.Action.REJECT, status=Proposal.Status.REJECTED, note=reason
    )
    proposal.items.update(response=ProposalItem.Response.RELEASED)
    return proposal


@transaction.atomic
def proposal_redo(*, proposal: Proposal, by: User, note: str = "") -> Proposal:
    """Ask for another proposal: this one is set aside (its providers are not proposed
    again for the need) and a run for the need alone is queued at once."""
    proposal = _lock_pending(proposal, by)
    _decide(proposal, by=by, action=Decision.Action.REDO, status=Proposal.Status.REDO, note=note)
    proposal.items.update(response=ProposalItem.Response.RELEASED)
    match_need_start(need=proposal.need, requested_by=by, kind=MatchRun.Kind.MANUAL)
    return proposal


# --- Providers' answers ------------------------------------------------------------------


def proposal_item_may_respond(*, item: ProposalItem, user: User) -> bool:
    """The matched person answers for themself; a charity's staff answer for its project."""
    if item.volunteer_id:
        return item.volunteer.user_id == user.pk
    if item.social_worker_id:
        return item.social_worker.user_id == user.pk
    return Membership.objects.filter(
        user=user, role=Role.CHARITY_STAFF, organisation_id=item.project.organisation_id
    ).exists()


@transaction.atomic
def proposal_item_respond(
    *, item: ProposalItem, by: User, accept: bool, reason: str = ""
) -> ProposalItem:
    """A matched provider accepts or declines. A charity's acceptance asks its project fund
    to pay the need (the ledger's own approval follows). A decline takes the person out of
    the team and re-opens their slot for the next run; a leader's decline ends the team and
    re-opens the whole need."""
    item = (
        ProposalItem.objects.select_for_update(of=("self",))
        .select_related("proposal", "proposal__need", "volunteer", "social_worker", "project")
        .get(pk=item.pk)
    )
    if not proposal_item_may_respond(item=item, user=by):
        raise NotPermitted(_("只有被匹配的服务方本人可以答复。"))
    if (
        item.proposal.status != Proposal.Status.APPROVED
        or item.response != ProposalItem.Response.WAITING
    ):
        raise InvalidState(
            _("该匹配当前为“%(status)s”，不能再答复。") % {"status": item.get_response_display()}
        )
    if not accept and not (reason or "").strip():
        raise MatchingError(_("婉拒须填写原因。"), code="reason_required")
    need = item.proposal.need
    item.responded_at = timezone.now()
    if accept:
        item.response = ProposalItem.Response.ACCEPTED
        if item.role == CHARITY:
            item.disbursement = _request_disbursement(item, need=need, by=by)
        item.save(update_fields=["response", "responded_at", "disbursement"])
        return item
    item.response = ProposalItem.Response.DECLINED
    item.decline_reason = reason.strip()[:200]
    item.save(update_fields=["response", "responded_at", "decline_reason"])
    team = item.proposal.team
    if team is not None and team.status == Team.Status.ACTIVE and item.provider_user_id:
        if team.leader_id == item.social_worker_id:
            team_close(team=team, by=by)
            item.proposal.items.exclude(pk=item.pk).filter(
                response__in=ProposalItem.HOLDING
            ).update(response=ProposalItem.Response.RELEASED)
        elif TeamMember.objects.filter(
            team=team, user_id=item.provider_user_id, active=True
        ).exists():
            team_member_withdraw(team=team, user=by, reason=item.decline_reason)
    need_reopen(need=need, reason=_("服务方婉拒，名额重新开放匹配"))
    return item


def _request_disbursement(item: ProposalItem, *, need: Need, by: User):
    fund = Fund.objects.filter(project_id=item.project_id).order_by("pk").first()
    if fund is None:
        raise InvalidState(_("该慈善项目没有可拨付的基金。"))
    kind = need.kind
    amount = need.amount if need.amount is not None else Decimal("0")
    return disbursement_request(
        fund=fund,
        need=need,
        by=by,
        kind=kind,
        amount=amount,
        purpose=_("匹配方案%(id)s：%(need)s") % {"id": item.proposal_id, "need": need},
        idempotency_key=f"proposal-item-{item.pk}",
        item=str(need.service_type) if kind == Need.Kind.GOODS else "",
        quantity=need.quantity if kind == Need.Kind.GOODS else None,
    )


__all__ = [
    "approval_rule_editors_sync",
    "approval_rule_for",
    "match_emergency_start",
    "match_need_start",
    "match_run_execute",
    "match_run_may_start",
    "match_run_nightly",
    "match_run_start",
    "proposal_approve",
    "proposal_item_may_respond",
    "proposal_item_respond",
    "proposal_may_decide",
    "proposal_redo",
    "proposal_reject",
]
