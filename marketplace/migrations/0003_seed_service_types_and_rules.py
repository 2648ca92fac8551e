"""Service types named in the district's plan, and the monitoring rules with their default
thresholds. Both are data that civil affairs can edit afterwards."""

from django.db import migrations

SERVICE_TYPES = [
    ("visiting", "走访探视", "定期上门探访、了解生活状况"),
    ("care", "照料护理", "生活照料、助餐助洁、护理服务"),
    ("rehabilitation", "康复训练", "康复训练与辅助"),
    ("hospital_escort", "送医陪护", "就医陪同、住院陪护"),
    ("social_integration", "社会融入", "社区活动、社会交往支持"),
    ("capacity_building", "能力提升", "就业技能、学业辅导、生计发展"),
    ("counselling", "心理疏导", "心理支持与情绪疏导"),
    ("legal_aid", "法律援助", "法律咨询与援助"),
    ("age_friendly", "适老化改造", "居家适老化改造"),
    ("child_rehabilitation", "残疾儿童康复", "残疾儿童康复服务"),
    ("funeral", "惠民殡葬", "基本殡葬服务"),
    ("temporary_emergency", "临时救助（急难型）", "突发事件、意外导致的基本生活困难"),
    ("temporary_expenditure", "临时救助（支出型）", "大额刚性支出导致的基本生活困难"),
]

RULES = [
    ("income_near_line", {"factor": "1.2"}),
    ("medical_expense", {"threshold": "20000"}),
    ("elderly_alone", {"min_age": 70}),
    ("disability", {}),
    ("tekun_minor_near_adult", {"months": 6}),
]


def seed(apps, schema_editor):
    ServiceType = apps.get_model("marketplace", "ServiceType")
    MonitoringRule = apps.get_model("marketplace", "MonitoringRule")
    for position, (code, name, description) in enumerate(SERVICE_TYPES, start=1):
        ServiceType.objects.update_or_create(
            code=code, defaults={"name": name, "description": description, "position": position}
        )
    for code, params in RULES:
        MonitoringRule.objects.get_or_create(code=code, defaults={"params": params})


class Migration(migrations.Migration):
    dependencies = [("marketplace", "0002_cases")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
