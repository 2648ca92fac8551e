"""Every URL pattern of the fund pages, swept: anonymous visitors go to the login page; each
role, on the district's fund, its own organisation's fund and another organisation's fund,
gets the page only where the rules allow it and 403/404 elsewhere; pages that only read
refuse POST. A new URL pattern fails `test_every_pattern_is_swept` until it is added here."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, reverse

from charity import urls as charity_urls
from charity.models import Fund
from charity.services.disbursements import disbursement_request
from charity.services.donations import donation_record
from marketplace.models import Need, Role
from tests import factories as f

# --- The ledger every page test starts from ------------------------------------------------


def give(fund, by, amount="20000.00"):
    """A money donation through the service."""
    return donation_record(
        fund=fund,
        by=by,
        idempotency_key=f.key(),
        kind="money",
        donor_kind="organisation",
        donor_name="合肥爱心企业",
        amount=amount,
    )


def ask(fund, need, by, amount="500.00"):
    """A funds disbursement request through the service."""
    return disbursement_request(
        fund=fund,
        need=need,
        by=by,
        kind="funds",
        amount=amount,
        purpose="临时救助金，用于住院后基本生活",
        idempotency_key=f.key(),
    )


@pytest.fixture
def ledger(projects_world, make_project):
    """`projects_world` plus the district's special fund and reserve, a project fund for
    the charity, the second charity and the agency, each with a donation and a pending
    request for one confirmed need of 明光路街道; and an emergency need of that street."""
    w = projects_world
    w.special = f.fund(
        w.civil_affairs, Fund.Kind.SPECIAL, name="瑶海益家社会救助专项基金", code="yaohai-yijia"
    )
    w.reserve = f.fund(w.civil_affairs, Fund.Kind.RESERVE, name="临时救助备用金", code="reserve")
    w.charity_fund = f.fund(
        w.charity, Fund.Kind.PROJECT, name="助餐项目资金", project=make_project()
    )
    w.charity2_fund = f.fund(
        w.charity2,
        Fund.Kind.PROJECT,
        name="胜利路助学资金",
        project=make_project(
            organisation=w.charity2, owner=w.charity2_staff, title="助学", streets=[w.street2]
        ),
    )
    w.agency_fund = f.fund(
        w.agency,
        Fund.Kind.PROJECT,
        name="社工服务资金",
        project=make_project(organisation=w.agency, owner=w.agency_staff, title="社工探访"),
    )
    w.need = f.money_need(w, "3000.00")
    w.emergency = f.money_need(w, "800.00", urgency=Need.Urgency.EMERGENCY)
    w.street_official = w.users[Role.STREET_OFFICIAL]
    give(w.special, w.official)
    w.donations, w.disbursements = {}, {}
    for fund, staff in [
        (w.special, w.official),
        (w.charity_fund, w.charity_staff),
        (w.charity2_fund, w.charity2_staff),
        (w.agency_fund, w.agency_staff),
    ]:
        w.donations[fund.pk] = give(fund, staff)
        requester = w.street_official if fund == w.special else staff
        w.disbursements[fund.pk] = ask(fund, w.need, requester)
    return w


# --- Who may do what ------------------------------------------------------------------------

READERS = {
    Role.CIVIL_AFFAIRS_OFFICIAL,
    Role.AUDITOR,
    Role.CHARITY_STAFF,
    Role.AGENCY_STAFF,
    Role.STREET_OFFICIAL,
}


def _rules(w):
    """For each URL name: whether `role` may use it on `fund` (None for pages of no fund)."""
    own = {
        Role.CIVIL_AFFAIRS_OFFICIAL: {w.special.pk, w.reserve.pk},
        Role.CHARITY_STAFF: {w.charity_fund.pk},
        Role.AGENCY_STAFF: {w.agency_fund.pk},
    }
    district = {w.special.pk, w.reserve.pk}
    everything = {fund.pk for fund in Fund.objects.all()}
    reads = {
        Role.CIVIL_AFFAIRS_OFFICIAL: everything,
        Role.AUDITOR: everything,
        Role.STREET_OFFICIAL: district,
        **{r: own[r] for r in (Role.CHARITY_STAFF, Role.AGENCY_STAFF)},
    }

    def manages(role, fund):
        return fund.pk in own.get(role, set())

    def reads_fund(role, fund):
        return fund.pk in reads.get(role, set())

    def requests(role, fund):
        if fund.kind == Fund.Kind.RESERVE:
            return False
        return manages(role, fund) or (role == Role.STREET_OFFICIAL and fund.pk in district)

    def decides(role, fund):
        requester = w.disbursements[fund.pk].requested_by
        if w.users[role] == requester:
            return False
        return role == Role.CIVIL_AFFAIRS_OFFICIAL or manages(role, fund)

    def reads_disbursement(role, fund):
        requester = w.disbursements[fund.pk].requested_by
        return reads_fund(role, fund) or w.users[role] == requester

    return {
        "fund-list": lambda role, fund: role in READERS,
        "fund-detail": reads_fund,
        "fund-ledger-export": lambda role, fund: (
            manages(role, fund) or role in {Role.CIVIL_AFFAIRS_OFFICIAL, Role.AUDITOR}
        ),
        "fund-transfer": manages,
        "donation-create": manages,
        "donation-detail": reads_fund,
        "donation-refund": manages,
        "disbursement-create": requests,
        "disbursement-list": lambda role, fund: role in READERS,
        "disbursement-export": lambda role, fund: role in READERS,
        "disbursement-detail": reads_disbursement,
        "disbursement-approve": decides,
        "disbursement-reject": decides,
        "reserve-advance": lambda role, fund: (
            role in {Role.CIVIL_AFFAIRS_OFFICIAL, Role.STREET_OFFICIAL}
        ),
    }


# Pages that change something: GET shows the form (or 405 for POST-only), POST with nothing
# is bad input for those allowed.
FORMS = {"fund-transfer", "donation-create", "disbursement-create", "reserve-advance"}
POST_ONLY = {"donation-refund", "disbursement-approve", "disbursement-reject"}


def _url(name, w, fund):
    params = set(_pattern(name).pattern.regex.groupindex)
    kwargs = {}
    if "need_id" in params:
        kwargs["need_id"] = w.emergency.pk
    elif name in {"donation-detail", "donation-refund"}:
        kwargs["pk"] = w.donations[fund.pk].pk
    elif name in {"disbursement-detail", "disbursement-approve", "disbursement-reject"}:
        kwargs["pk"] = w.disbursements[fund.pk].pk
    elif "pk" in params:
        kwargs["pk"] = fund.pk
    return reverse(f"charity:{name}", kwargs=kwargs or None)


def _pattern(name):
    return next(p for p in charity_urls.urlpatterns if p.name == name)


def _funds(w):
    return [w.special, w.charity_fund, w.charity2_fund, w.agency_fund]


def test_every_pattern_is_swept(ledger):
    names = [p.name for p in charity_urls.urlpatterns]
    assert all(isinstance(p, URLPattern) for p in charity_urls.urlpatterns)
    assert set(names) == set(_rules(ledger)), "add the new pattern's rule to the sweep"
    assert len(names) == len(set(names))


def test_anonymous_goes_to_login_everywhere(client, ledger):
    login = reverse("login")
    for name in _rules(ledger):
        url = _url(name, ledger, ledger.charity_fund)
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code == 302, (name, method)
            assert response["Location"].startswith(login), (name, method)


@pytest.mark.parametrize("role", list(Role))
def test_each_role_gets_only_what_the_rules_allow(client, ledger, role):
    w = ledger
    client.force_login(w.users[role])
    for name, allowed in _rules(w).items():
        for fund in _funds(w):
            ok = allowed(role, fund)
            url = _url(name, w, fund)
            get = client.get(url)
            post = client.post(url, {})
            where = (role, name, fund.name)
            if name in POST_ONLY:
                assert get.status_code == 405, where
            elif ok:
                assert get.status_code == 200, where
            else:
                assert get.status_code in (403, 404), (*where, get.status_code)
            if name in FORMS or name in POST_ONLY:
                expected = (400,) if ok else (403, 404)
            else:
                expected = (405,)
            assert post.status_code in expected, (*where, "post", post.status_code)


def test_street_official_of_another_street_cannot_pay_this_streets_emergency(client, ledger):
    client.force_login(ledger.street_official2)
    url = reverse("charity:reserve-advance", kwargs={"need_id": ledger.emergency.pk})
    assert client.get(url).status_code == 404
    assert (
        client.post(
            url, {"amount": "100", "purpose": "急难", "idempotency_key": f.key()}
        ).status_code
        == 404
    )


def test_a_second_charitys_staff_never_see_the_first_charitys_rows(client, ledger):
    w = ledger
    client.force_login(w.charity2_staff)
    assert client.get(reverse("charity:fund-detail", args=[w.charity_fund.pk])).status_code == 404
    donation = w.donations[w.charity_fund.pk]
    assert client.get(reverse("charity:donation-detail", args=[donation.pk])).status_code == 404
    listed = client.get(reverse("charity:fund-list")).context["page"].object_list
    assert [fund.pk for fund in listed] == [w.charity2_fund.pk]
    rows = client.get(reverse("charity:disbursement-list")).context["page"].object_list
    assert [d.pk for d in rows] == [w.disbursements[w.charity2_fund.pk].pk]
