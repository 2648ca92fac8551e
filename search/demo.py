"""The demo's search index: built last, once every app has seeded its data (listed last in
`settings.DEMO_SEEDERS`), so that searching the demo finds what it shows."""

from __future__ import annotations

import logging

from search.backends.base import SearchUnavailable
from search.services import search_rebuild

logger = logging.getLogger(__name__)


def search_demo_seed(*, report, size: str) -> None:
    """Rebuild the index from the seeded data (every size). An unreachable index does not
    stop the seed: `manage.py search_rebuild` can be run once it answers."""
    try:
        counts = search_rebuild()
    except SearchUnavailable as exc:
        logger.warning("search index not rebuilt for the demo: %s", exc)
        return
    report.add("search_documents", sum(counts.values()))
