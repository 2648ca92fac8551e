import io
import json
import re
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from marketplace import crypto
from marketplace.demo import DEFAULT_DATA, DEMO_LOGINS, credit_code_for
from marketplace.models import (
    Area,
    AssistanceStandard,
    Case,
    CaseMember,
    Consent,
    Membership,
    MonitoringRule,
    Need,
    NeedEscalation,
    NeedTransition,
    Organisation,
    Referral,
    Role,
    SensitiveAccess,
    User,
    Warning,
)
from marketplace.services import household_find
from marketplace.services.cases import ID_PURPOSE, PHONE_PURPOSE
from marketplace.validators import resident_id_birth_date

pytestmark = pytest.mark.django_db

COUNTED = (
    Area,
    Organisation,
    User,
    Membership,
    AssistanceStandard,
    Case,
    CaseMember,
    Consent,
    Need,
    NeedTransition,
    NeedEscalation,
    Referral,
    Warning,
    SensitiveAccess,
)


def _counts():
    return tuple(model.objects.count() for model in COUNTED)


def test_seed_is_idempotent_and_covers_every_role(capsys):
    call_command("seed_demo")
    first = _counts()
    assert Case.objects.count() >= 25 and Need.objects.count() >= 25
    call_command("seed_demo")
    assert _counts() == first
    out = capsys.readouterr().out
    assert "minzheng" in out and "Yaohai@2021" in out and "bumen" in out
    assert {login.role for login in DEMO_LOGINS} == set(Role.values)
    assert set(Membership.objects.values_list("role", flat=True)) == set(Role.values)
    bumen = Membership.objects.get(user__username="bumen")
    assert bumen.role == Role.DEPARTMENT_STAFF
    assert bumen.organisation.name == "瑶海区住房和城乡建设局"
    streets = set(Area.objects.filter(level="street").values_list("name", flat=True))
    assert {"明光路街道", "大兴镇", "龙岗综合经济开发区"} <= streets
    # Every street has its office, 社工站 and 志愿者联合会.
    for kind in ("street_office", "social_work_station", "volunteer_federation"):
        assert Organisation.objects.filter(kind=kind).count() == len(streets)
    assert Organisation.objects.filter(verified=False).exists()


def test_demo_logins_work(client):
    call_command("seed_demo")
    for login in DEMO_LOGINS:
        response = client.post("/login/", {"username": login.username, "password": "Yaohai@2021"})
        assert response.status_code == 302, login.username
        client.post("/logout/")


# --- No plain sensitive value anywhere ---------------------------------------------------

ID_CANDIDATE = re.compile(r"(?=(\d{17}[\dX]))")
# Not inside a longer run of letters and digits (hex digests, salted password hashes).
MOBILE = re.compile(r"(?<![0-9A-Za-z$])1[3-9]\d{9}(?![0-9A-Za-z])")


def _valid_resident_ids(text: str) -> set[str]:
    found = set()
    for candidate in ID_CANDIDATE.findall(text):
        try:
            resident_id_birth_date(candidate)
        except Exception:  # noqa: S112 - not a valid ID: not a leak
            continue
        found.add(candidate)
    return found


def _everything_stored() -> str:
    """Every row of every table: dumpdata of all models, and every column read raw."""
    out = io.StringIO()
    call_command("dumpdata", stdout=out)
    parts = [out.getvalue()]
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            parts.extend(" ".join("" if v is None else str(v) for v in row) for row in cursor)
    return "\n".join(parts)


def _assert_no_plain_sensitive_values() -> tuple[set[str], set[str]]:
    ids = {
        crypto.decrypt(t, purpose=ID_PURPOSE)
        for t in CaseMember.objects.values_list("id_cipher", flat=True)
    }
    phones = {
        crypto.decrypt(t, purpose=PHONE_PURPOSE)
        for t in Case.objects.exclude(phone_cipher="").values_list("phone_cipher", flat=True)
    }
    stored = _everything_stored()
    assert _valid_resident_ids(stored) == set()
    assert MOBILE.findall(stored) == []
    # The values themselves, wherever they might hide.
    assert [v for v in ids | phones if v in stored] == []
    return ids, phones


def test_small_seed_stores_no_plain_id_number_or_phone():
    call_command("seed_demo", size="small")
    ids, phones = _assert_no_plain_sensitive_values()
    # Not vacuous: the demo holds real-looking values, valid IDs of Yaohai.
    assert len(ids) == CaseMember.objects.count() >= 40
    assert len(phones) >= 20
    for number in ids:
        assert number.startswith("340102") and resident_id_birth_date(number)
    for phone in phones:
        assert re.fullmatch(r"1[3-9]\d{9}", phone)


def test_small_seed_is_what_the_services_make():
    call_command("seed_demo", size="small")
    now = timezone.now()
    street = Area.objects.get(name="明光路街道")
    # The households of the case demo sit in one street; the charity demo's paid
    # disbursements of the past year went to households of three streets.
    paid_before = Case.objects.filter(needs__disbursements__paid_at__lt=now - timedelta(days=20))
    assert set(Case.objects.exclude(pk__in=paid_before).values_list("street_id", flat=True)) == {
        street.pk
    }
    assert paid_before.values("street_id").distinct().count() == 3
    assert Case.objects.filter(community__name="明光路社区").count() >= 10
    for member in CaseMember.objects.select_related("case"):
        number = crypto.decrypt(member.id_cipher, purpose=ID_PURPOSE)
        assert member.birth_date == resident_id_birth_date(number)
        assert member.id_masked == number[:6] + "*" * 8 + number[-4:]
        assert household_find(id_numbers=[number]) == member.case
    # Every status of the lifecycle, each need with its recorded way there.
    assert set(Need.objects.values_list("status", flat=True)) == set(Need.Status.values)
    for need in Need.objects.prefetch_related("transitions"):
        steps = [(t.from_status, t.to_status) for t in need.transitions.all()]
        assert steps[0] == ("", Need.Status.DRAFT)
        assert steps[-1][1] == need.status
        assert all(a[1] == b[0] for a, b in zip(steps, steps[1:], strict=False))
    emergencies = list(Need.objects.filter(urgency=Need.Urgency.EMERGENCY))
    assert sorted(n.overdue for n in emergencies) == [False, True]
    overdue = next(n for n in emergencies if n.overdue)
    assert overdue.escalation_level == 1 and overdue.escalations.count() == 1
    waiting = next(n for n in emergencies if not n.overdue)
    assert waiting.response_deadline > now and waiting.status == Need.Status.SUBMITTED
    candidates = list(Case.objects.filter(status=Case.Status.CANDIDATE))
    assert len(candidates) >= 2
    assert sorted(c.candidate_overdue for c in candidates) == [False] * (len(candidates) - 1) + [
        True
    ]
    referrals = list(Referral.objects.all())
    assert any(r.overdue for r in referrals)
    assert {Referral.Status.DONE, Referral.Status.RETURNED} <= {r.status for r in referrals}
    assert set(Case.objects.values_list("channel", flat=True)) == {
        "window",
        "online",
        "discovery",
        "referral",
    }
    assert Case.objects.get(channel="online").applicant.username == "shenqing"
    assert Case.objects.get(channel="referral").referred_by.name == "瑶海区住房和城乡建设局"
    # The monitoring scan ran: each rule flagged someone.
    assert set(Warning.objects.values_list("rule", flat=True)) == set(
        MonitoringRule.objects.values_list("code", flat=True)
    )
    assert SensitiveAccess.objects.count() == 1
    standards = dict(
        AssistanceStandard.objects.filter(area__level="district").values_list(
            "year", "dibao_monthly"
        )
    )
    years = sorted(standards)
    assert years[0] == 2021 and years[-1] >= 2026
    assert all(standards[a] < standards[b] for a, b in zip(years, years[1:], strict=False))


def _bad_file(tmp_path, mutate):
    data = json.loads(DEFAULT_DATA.read_text(encoding="utf-8"))
    mutate(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return str(path)


def test_malformed_credit_code_is_refused_and_nothing_written(tmp_path):
    def mutate(data):
        data["organisations"][0]["credit_code"] = "91340102MA2N00001X"

    with pytest.raises(CommandError) as exc:
        call_command("seed_demo", data=_bad_file(tmp_path, mutate))
    assert "校验位" in str(exc.value)
    assert not any(_counts())


def test_unknown_street_is_refused(tmp_path):
    def mutate(data):
        data["organisations"][0]["street"] = "不存在街道"

    with pytest.raises(CommandError) as exc:
        call_command("seed_demo", data=_bad_file(tmp_path, mutate))
    assert "不存在街道" in str(exc.value)
    assert Area.objects.count() == 0


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"year": "2024", "dibao_monthly": "845"}, "年度“2024”无效"),
        ({"year": 1800, "dibao_monthly": "845"}, "年度“1800”无效"),
        ({"year": 2021, "dibao_monthly": "700"}, "2021年全区的标准重复"),
        ({"year": 2030, "dibao_monthly": "-5"}, "2030年的金额“-5”无效"),
        ({"year": 2030, "dibao_monthly": "很多"}, "2030年的金额“很多”无效"),
        ({"year": 2030, "dibao_monthly": "900", "street": "不存在街道"}, "街道“不存在街道”不存在"),
    ],
)
def test_bad_assistance_standard_is_refused_and_nothing_written(tmp_path, row, message):
    def mutate(data):
        data["assistance_standards"].append(row)

    with pytest.raises(CommandError) as exc:
        call_command("seed_demo", data=_bad_file(tmp_path, mutate))
    assert message in str(exc.value) and "低保标准第7条" in str(exc.value)
    assert not any(_counts())


def test_not_json_and_missing_file_are_refused(tmp_path):
    path = tmp_path / "x.json"
    path.write_text("{oops", encoding="utf-8")
    with pytest.raises(CommandError, match="JSON"):
        call_command("seed_demo", data=str(path))
    with pytest.raises(CommandError, match="找不到"):
        call_command("seed_demo", data=str(tmp_path / "missing.json"))


def test_unknown_size_is_refused():
    with pytest.raises(CommandError):
        call_command("seed_demo", size="city")


def test_refused_where_demo_data_is_not_allowed(settings):
    settings.DEMO_DATA_ALLOWED = False
    with pytest.raises(CommandError, match="生产环境"):
        call_command("seed_demo")


def test_district_size_bulk(monkeypatch, settings):
    import marketplace.demo as demo

    # The full size runs in bench/; here the same path with smaller numbers.
    monkeypatch.setattr(demo, "DISTRICT_VOLUNTEERS", 300)
    monkeypatch.setattr(demo, "DISTRICT_APPLICANTS", 50)
    monkeypatch.setattr(demo, "DISTRICT_SOCIAL_ORGANISATIONS", 40)
    monkeypatch.setattr(demo, "DISTRICT_CASES", 240)
    monkeypatch.setattr(demo, "DISTRICT_NEEDS", 300)
    monkeypatch.setattr(demo, "CASE_BATCH", 100)  # several batches
    call_command("seed_demo", size="district")
    first = _counts()
    assert Area.objects.filter(level="community").count() == demo.DISTRICT_COMMUNITIES
    # The bulk accounts, besides the registered volunteers of the small demo.
    bulk_volunteers = Membership.objects.filter(role=Role.VOLUNTEER, user__volunteer__isnull=True)
    assert bulk_volunteers.count() == 300
    assert Organisation.objects.filter(credit_code=credit_code_for(40)).exists()

    bulk = Case.objects.filter(
        submission_key__in=[demo.demo_key(f"district-case-{i}") for i in range(240)]
    )
    assert bulk.count() == 240
    assert Need.objects.filter(case__in=bulk).count() == 300
    assert bulk.values("community").distinct().count() > 100  # across the district
    assert set(bulk.values_list("channel", flat=True)) == {
        "window",
        "online",
        "discovery",
        "referral",
    }
    assert set(Need.objects.filter(case__in=bulk).values_list("status", flat=True)) >= {
        "draft",
        "submitted",
        "open",
        "done",
        "cancelled",
    }

    # Exactly what the services write: only ciphertext, hash and mask; derived birth dates;
    # streets denormalised; consents; the transitions of each need's way to its status.
    for member in CaseMember.objects.filter(case__in=bulk).select_related("case"):
        number = crypto.decrypt(member.id_cipher, purpose=ID_PURPOSE)
        assert member.id_hash == crypto.lookup_hash(number, purpose=ID_PURPOSE)
        assert member.id_masked == crypto.mask_id_number(number)
        assert member.birth_date == resident_id_birth_date(number)
        assert household_find(id_numbers=[number]) == member.case
    for case in bulk.select_related("community").prefetch_related("members", "consents"):
        assert case.street_id == case.community.parent_id
        assert case.household_size == len(case.members.all())
        if case.phone_cipher:
            phone = crypto.decrypt(case.phone_cipher, purpose=PHONE_PURPOSE)
            assert case.phone_masked == crypto.mask_phone(phone)
            assert case.phone_hash == crypto.lookup_hash(phone, purpose=PHONE_PURPOSE)
        kinds = [c.kind for c in case.consents.all()]
        if case.channel == "discovery":
            assert kinds == []
        else:
            assert kinds.count(Consent.Kind.SENSITIVE_INFO) == 1
            children = [m for m in case.members.all() if m.age < 14]
            assert kinds.count(Consent.Kind.GUARDIAN) == len(children)
        if case.channel == "online":
            assert case.applicant_id and Consent.Kind.FINANCE_CHECK in kinds
    for need in Need.objects.filter(case__in=bulk).prefetch_related("transitions"):
        assert need.street_id == need.community.parent_id == need.case.street_id
        steps = [(t.from_status, t.to_status) for t in need.transitions.all()]
        assert steps[0] == ("", Need.Status.DRAFT) and steps[-1][1] == need.status
        if need.status != Need.Status.DRAFT:
            assert steps[1] == (Need.Status.DRAFT, Need.Status.SUBMITTED)
        if need.urgency == Need.Urgency.EMERGENCY and need.submitted_at:
            assert need.response_deadline == need.submitted_at + timedelta(
                hours=settings.EMERGENCY_RESPONSE_HOURS
            )
        if need.status in {Need.Status.OPEN, Need.Status.MATCHED}:
            assert need.public_description
    _assert_no_plain_sensitive_values()

    call_command("seed_demo", size="district")
    assert _counts() == first
