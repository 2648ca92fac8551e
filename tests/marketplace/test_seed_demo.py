import json

import pytest
from django.core.management import CommandError, call_command

from marketplace.demo import DEFAULT_DATA, DEMO_LOGINS, credit_code_for
from marketplace.models import Area, Membership, Organisation, Role, User

pytestmark = pytest.mark.django_db


def _counts():
    return (
        Area.objects.count(),
        Organisation.objects.count(),
        User.objects.count(),
        Membership.objects.count(),
    )


def test_seed_is_idempotent_and_covers_every_role(capsys):
    call_command("seed_demo")
    first = _counts()
    call_command("seed_demo")
    assert _counts() == first
    out = capsys.readouterr().out
    assert "minzheng" in out and "Yaohai@2021" in out
    assert set(Membership.objects.values_list("role", flat=True)) == set(Role.values)
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
    assert _counts() == (0, 0, 0, 0)


def test_unknown_street_is_refused(tmp_path):
    def mutate(data):
        data["organisations"][0]["street"] = "不存在街道"

    with pytest.raises(CommandError) as exc:
        call_command("seed_demo", data=_bad_file(tmp_path, mutate))
    assert "不存在街道" in str(exc.value)
    assert Area.objects.count() == 0


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


def test_district_size_bulk(monkeypatch):
    import marketplace.demo as demo

    # The full size runs in bench/; here the same path with smaller numbers.
    monkeypatch.setattr(demo, "DISTRICT_VOLUNTEERS", 300)
    monkeypatch.setattr(demo, "DISTRICT_APPLICANTS", 50)
    monkeypatch.setattr(demo, "DISTRICT_SOCIAL_ORGANISATIONS", 40)
    call_command("seed_demo", size="district")
    first = _counts()
    assert Area.objects.filter(level="community").count() == demo.DISTRICT_COMMUNITIES
    assert Membership.objects.filter(role=Role.VOLUNTEER).count() == 300 + 1
    assert Organisation.objects.filter(credit_code=credit_code_for(40)).exists()
    call_command("seed_demo", size="district")
    assert _counts() == first
