from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SearchConfig(AppConfig):
    name = "search"
    label = "site_search"
    verbose_name = _("搜索")

    def ready(self) -> None:
        # Wagtail's publish / unpublish events schedule re-indexing (framework events only).
        from search import signals

        signals.connect()
