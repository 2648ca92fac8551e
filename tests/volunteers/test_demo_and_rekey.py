"""The volunteering demo (what the journeys of the README stand on) and key rotation of
volunteers' ID numbers and phones."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import override_settings

from marketplace import crypto
from marketplace.models import Role
from marketplace.services import sensitive_rekey
from tests import factories as f
from volunteers.models import (
    Affiliation,
    Opportunity,
    ServiceRecord,
    Signup,
    Team,
    TeamMember,
    Volunteer,
)
from volunteers.services.people import ID_PURPOSE, PHONE_PURPOSE

pytestmark = pytest.mark.django_db


def test_demo_volunteer_is_two_hours_short_of_a_star_and_in_a_team():
    call_command("seed_demo", verbosity=0)
    zhao = Volunteer.objects.get(user__username="zhiyuan")
    assert zhao.confirmed_hours == 98 and zhao.star_level == 0
    assert zhao.affiliations.get().status == Affiliation.Status.APPROVED
    # Every star level the demo claims is what its confirmed records add up to.
    for volunteer in Volunteer.objects.all():
        total = sum(
            r.hours for r in volunteer.records.filter(status=ServiceRecord.Status.CONFIRMED)
        )
        assert volunteer.confirmed_hours == total
    assert Volunteer.objects.filter(star_level__gte=1).exists()
    team = Team.objects.get(leader__user__username="shegong")
    assert TeamMember.objects.filter(team=team, user=zhao.user, active=True).exists()
    assert team.events.exists()
    assert Signup.objects.filter(status=Signup.Status.WAITLISTED).exists()
    full = Opportunity.objects.get(title="陪同就医（市二院）")
    assert full.confirmed_count == full.slots


def test_demo_second_run_adds_no_volunteering_rows():
    call_command("seed_demo", verbosity=0)
    before = [
        m.objects.count()
        for m in (Volunteer, Affiliation, Opportunity, Signup, Team, ServiceRecord)
    ]
    call_command("seed_demo", verbosity=0)
    after = [
        m.objects.count()
        for m in (Volunteer, Affiliation, Opportunity, Signup, Team, ServiceRecord)
    ]
    assert after == before


KEY_A, KEY_B = crypto.generate_key(), crypto.generate_key()


def test_rekey_moves_volunteer_values_to_the_new_key(world):
    with override_settings(SENSITIVE_DATA_KEYS=f"A:{KEY_A}", SENSITIVE_DATA_KEY_ID="A"):
        volunteer = f.volunteer(f.user("rekey", Role.VOLUNTEER), world.community)
        plain_id = crypto.decrypt(volunteer.id_cipher, purpose=ID_PURPOSE)
        plain_phone = crypto.decrypt(volunteer.phone_cipher, purpose=PHONE_PURPOSE)
    with override_settings(SENSITIVE_DATA_KEYS=f"A:{KEY_A},B:{KEY_B}", SENSITIVE_DATA_KEY_ID="B"):
        assert sensitive_rekey() == 2
        volunteer.refresh_from_db()
        assert volunteer.id_cipher.startswith("B:") and volunteer.phone_cipher.startswith("B:")
    with override_settings(SENSITIVE_DATA_KEYS=f"B:{KEY_B}", SENSITIVE_DATA_KEY_ID="B"):
        assert crypto.decrypt(volunteer.id_cipher, purpose=ID_PURPOSE) == plain_id
        assert crypto.decrypt(volunteer.phone_cipher, purpose=PHONE_PURPOSE) == plain_phone
