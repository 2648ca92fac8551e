"""The district's authority rules as first seeded: amounts above 5,000 yuan and proposals
drawing providers from other streets go to district civil affairs; everything else is the
street's to approve. Civil affairs edits them afterwards in the admin."""

from decimal import Decimal

from django.db import migrations

RULES = [
    (10, "大额资金（超过5000元）报区民政局审批", Decimal("5000"), False, "district"),
    (20, "跨街道调配服务方报区民政局审批", None, True, "district"),
    (30, "街道辖内常规需求由街道审批", None, False, "street"),
]


def seed(apps, schema_editor):
    ApprovalRule = apps.get_model("matching", "ApprovalRule")
    if ApprovalRule.objects.exists():
        return
    for position, name, amount, cross, level in RULES:
        ApprovalRule.objects.create(
            position=position, name=name, min_amount=amount, cross_street=cross, level=level
        )


class Migration(migrations.Migration):
    dependencies = [("matching", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
