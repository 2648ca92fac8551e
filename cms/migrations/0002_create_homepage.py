"""Replace Wagtail's placeholder welcome page with the platform's home page."""

from django.db import migrations

LEAD = "让困难群众的需求，遇见能帮上忙的社区、社会组织、社工、志愿者和慈善资源。"
BODY = (
    "<p>瑶海区按照《瑶海区改革完善社会救助制度实施方案》，推行“资金+实物+服务”的救助模式，"
    "以社区为平台、社会组织为载体、社会工作者为支撑、社区志愿者为辅助、社会慈善资源为补充，"
    "实行“五社联动”。</p>"
    "<p>本平台连接需求与供给：街道和社区受理、确认困难家庭的需求，慈善组织发布服务项目，"
    "社会工作服务机构承接政府购买服务，志愿者报名参与服务，区民政局审批与监督全过程。</p>"
)


def create_homepage(apps, schema_editor):
    ContentType = apps.get_model("contenttypes.ContentType")
    Page = apps.get_model("wagtailcore.Page")
    Site = apps.get_model("wagtailcore.Site")
    Locale = apps.get_model("wagtailcore.Locale")
    HomePage = apps.get_model("cms.HomePage")

    # Wagtail's own migration made a placeholder page at depth 2; remove it.
    Page.objects.filter(depth=2, url_path="/home/").delete()

    homepage_ct, _ = ContentType.objects.get_or_create(model="homepage", app_label="cms")
    locale = Locale.objects.order_by("pk").first()
    homepage = HomePage.objects.create(
        title="瑶海区五社联动社会力量服务平台",
        draft_title="瑶海区五社联动社会力量服务平台",
        slug="home",
        content_type=homepage_ct,
        path="00010001",
        depth=2,
        numchild=0,
        url_path="/home/",
        locale=locale,
        live=True,
        lead=LEAD,
        body=BODY,
    )
    Site.objects.update_or_create(
        is_default_site=True,
        defaults={
            "hostname": "localhost",
            "port": 80,
            "site_name": "瑶海区五社联动社会力量服务平台",
            "root_page": homepage,
        },
    )


def remove_homepage(apps, schema_editor):
    apps.get_model("cms.HomePage").objects.filter(slug="home", depth=2).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("cms", "0001_initial"),
        ("wagtailcore", "0094_alter_page_locale"),
    ]

    operations = [migrations.RunPython(create_homepage, remove_homepage)]
