"""The database half of "no double booking" on PostgreSQL, and the seeded skills taxonomy.

An exclusion constraint refuses two confirmed sign-ups of one volunteer whose time ranges
overlap, whatever code path writes them (needs btree_gist for the equality on the volunteer
column). SQLite has no exclusion constraints; there the service's check under the
volunteer's row lock is the guarantee (SQLite serialises writers)."""

from django.db import migrations

EXCLUSION = """
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE volunteers_signup ADD CONSTRAINT signup_no_overlap
  EXCLUDE USING gist (
    volunteer_id WITH =,
    tstzrange(starts_at, ends_at, '[)') WITH &&
  ) WHERE (status = 'confirmed');
"""
DROP_EXCLUSION = "ALTER TABLE volunteers_signup DROP CONSTRAINT IF EXISTS signup_no_overlap;"

# code, name, description, needs a certificate, service types it serves
SKILLS = [
    ("care", "生活照料", "助餐、助洁、助浴等生活照料", False, ["care"]),
    ("rehabilitation", "康复护理", "康复训练辅助、护理支持", True, ["rehabilitation", "care"]),
    ("hospital_escort", "陪诊就医", "陪同就医、住院陪护", False, ["hospital_escort"]),
    ("counselling", "心理疏导", "倾听陪伴、情绪支持", True, ["counselling"]),
    ("visiting", "探访陪伴", "定期上门探访、聊天陪伴", False, ["visiting", "social_integration"]),
    ("tutoring", "课业辅导", "学业辅导、兴趣课程", False, ["capacity_building"]),
    ("legal", "法律咨询", "法律咨询与援助", True, ["legal_aid"]),
    ("repairs", "维修与适老化", "家电维修、居家适老化改造", False, ["age_friendly"]),
    ("driving", "驾驶接送", "驾车接送就医、出行", True, ["hospital_escort"]),
    ("sign_language", "手语", "手语沟通与翻译", True, ["social_integration"]),
    ("first_aid", "应急救护", "急救技能、应急处置", True, ["temporary_emergency"]),
    ("child_care", "儿童关爱", "留守儿童陪伴、残疾儿童康复辅助", False, ["child_rehabilitation"]),
    ("digital_help", "智能设备帮助", "教老人使用手机、线上办事", False, ["capacity_building"]),
    ("paperwork", "代办服务", "代办证件、代缴费用、政策申请", False, ["visiting"]),
    ("employment", "就业指导", "求职指导与技能培训", False, ["capacity_building"]),
]


def add_exclusion(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(EXCLUSION)


def drop_exclusion(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_EXCLUSION)


def seed_skills(apps, schema_editor):
    Skill = apps.get_model("volunteers", "Skill")
    ServiceType = apps.get_model("marketplace", "ServiceType")
    for position, (code, name, description, certificate, types) in enumerate(SKILLS, start=1):
        skill, _ = Skill.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "description": description,
                "needs_certificate": certificate,
                "position": position,
            },
        )
        skill.service_types.set(ServiceType.objects.filter(code__in=types))


class Migration(migrations.Migration):
    dependencies = [
        ("volunteers", "0001_initial"),
        ("marketplace", "0004_volunteer_manager_role"),
    ]

    operations = [
        migrations.RunPython(add_exclusion, drop_exclusion),
        migrations.RunPython(seed_skills, migrations.RunPython.noop),
    ]
