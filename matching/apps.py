from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MatchingConfig(AppConfig):
    name = "matching"
    verbose_name = _("匹配与审批")

    def ready(self) -> None:
        # Register the tasks with the Celery app in every process, not only in workers:
        # the shared domain dispatches the emergency match by task name after commit.
        from matching import tasks  # noqa: F401
