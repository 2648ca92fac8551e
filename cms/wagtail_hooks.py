"""The purchasing guidance catalogue in the Wagtail admin (购买服务目录): civil affairs adds
and edits items as drafts with revisions and publishes them; only published (live) items
reach the public catalogue and may be bought. Who may do what is the model's permissions,
granted to the civil-affairs officials' group by a cms migration."""

from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel, FieldRowPanel, MultiFieldPanel
from wagtail.admin.ui.tables import LiveStatusTagColumn
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet

from marketplace.models import CatalogueItem


class CatalogueItemViewSet(SnippetViewSet):
    model = CatalogueItem
    icon = "list-ul"
    menu_label = _("购买服务目录")
    menu_name = "procurement-catalogue"
    menu_order = 310
    add_to_admin_menu = True
    list_display = [
        "year",
        "code",
        "name",
        "category",
        "unit",
        "guidance_price",
        "in_service_list",
        LiveStatusTagColumn(),
    ]
    list_filter = ["year", "category", "in_service_list"]
    # Searched in the database: the code is not in the model's search index.
    search_fields = ["name", "code"]
    search_backend_name = None
    ordering = ["-year", "code"]
    panels = [
        FieldRowPanel([FieldPanel("year"), FieldPanel("code")]),
        FieldPanel("name"),
        FieldRowPanel([FieldPanel("category"), FieldPanel("service_type")]),
        FieldPanel("description"),
        FieldPanel("service_standard"),
        MultiFieldPanel(
            [
                FieldRowPanel([FieldPanel("unit"), FieldPanel("guidance_price")]),
                FieldPanel("in_service_list"),
            ],
            heading=_("计量与价格"),
        ),
    ]


register_snippet(CatalogueItemViewSet)
