"""`manage.py search_rebuild [--type T …]`: rebuild the search index from the domain."""

import time

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from search.backends import get_backend
from search.backends.base import DOC_TYPES, SearchUnavailable
from search.services import search_rebuild


class Command(BaseCommand):
    help = "从业务数据重建搜索索引（全部类型切换为新索引；指定 --type 则只刷新该类型）。"

    def add_arguments(self, parser):
        parser.add_argument(
            "--type",
            action="append",
            dest="types",
            metavar="TYPE",
            help="只刷新这些类型（可重复）：" + "、".join(DOC_TYPES),
        )

    def handle(self, *args, types=None, **options):
        unknown = [t for t in types or [] if t not in DOC_TYPES]
        if unknown:
            raise CommandError(
                _("未知的类型：%(types)s。可选：%(choices)s。")
                % {"types": "、".join(unknown), "choices": "、".join(DOC_TYPES)}
            )
        backend = get_backend()
        self.stdout.write(
            _("重建搜索索引（%(backend)s）：%(types)s")
            % {"backend": backend.name, "types": "、".join(types or DOC_TYPES)}
        )
        started = time.monotonic()

        def progress(doc_type: str, n: int) -> None:
            self.stdout.write(f"  {doc_type}: {n}")

        try:
            counts = search_rebuild(doc_types=types, backend=backend, progress=progress)
        except SearchUnavailable as exc:
            raise CommandError(_("搜索服务不可用：%(error)s") % {"error": exc}) from exc
        total = sum(counts.values())
        self.stdout.write(
            self.style.SUCCESS(
                _("完成：%(total)s 条文档，用时 %(seconds).1f 秒。")
                % {"total": total, "seconds": time.monotonic() - started}
            )
        )
        for doc_type, n in counts.items():
            self.stdout.write(f"  {doc_type}: {n}")
