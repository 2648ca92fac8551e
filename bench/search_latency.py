"""Search latency of the database backend over 100k documents.

    .venv/bin/python bench/search_latency.py                      # SQLite (a fresh file)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sbench .venv/bin/python bench/search_latency.py
    .venv/bin/python bench/search_latency.py --docs 20000 --queries 100 --seed 7

Prepares a throwaway database (a fresh SQLite file unless DATABASE_URL is given; it is
migrated, and its search entries are replaced), generates `--docs` Chinese documents of all
six types (titles and bodies drawn from the vocabulary of the district's services, streets
and communities; seeded, so every run builds the same set), loads them through the backend's
`rebuild` (the same segmentation and bulk insert the index uses) and prints the load rate.
Then it runs `--queries` mixed Chinese queries (common and rare words, phrases, two-word
queries, single characters, numbers, a quarter with a facet filter), each through
`DatabaseBackend.search` with facets and one page of highlighted hits, after a warm-up pass,
and prints p50 / p95 / p99 / max latency. Last, recall: for `--recall` phrases, every
document whose title or body contains the phrase must be among the hits.
Target: p95 ≤ 50 ms.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
if "DATABASE_URL" not in os.environ:
    os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from search.backends.base import DOC_TYPES, SearchDoc, SearchQuery  # noqa: E402
from search.backends.database import DatabaseBackend  # noqa: E402
from search.models import SearchEntry  # noqa: E402

STREETS = [
    "明光路街道",
    "胜利路街道",
    "三里街街道",
    "七里站街道",
    "铜陵路街道",
    "红光街道",
    "大兴镇",
    "方庙街道",
    "城东街道",
    "龙岗开发区",
    "磨店街道",
    "长淮街道",
]
COMMUNITIES = ["和平", "红星", "幸福", "长宁", "东园", "新安", "瑶海", "北城", "南岗", "站北"]
SERVICES = [
    "助餐服务",
    "助浴服务",
    "心理疏导",
    "康复训练",
    "居家养老",
    "儿童关爱",
    "助残服务",
    "法律援助",
    "就业帮扶",
    "临时救助",
    "医疗陪护",
    "学业辅导",
    "家庭教育",
    "社区矫正",
    "防诈宣传",
    "环境整治",
    "邻里互助",
    "应急救援",
    "精神慰藉",
    "上门探访",
]
PHRASES = [
    "为辖区独居老人提供上门探访和精神慰藉",
    "面向困难家庭开展心理疏导与危机干预",
    "组织志愿者开展助餐送餐服务",
    "为残疾人提供康复训练和辅具适配",
    "开展留守儿童课后学业辅导与亲子活动",
    "提供法律咨询和法律援助服务",
    "协助低保家庭申请临时救助",
    "社区居家养老服务中心日间照料",
    "联合社会组织开展防范电信诈骗宣传",
    "为失业人员提供就业培训和岗位推荐",
    "开展邻里互助和社区议事协商",
    "对重病患者家庭进行医疗陪护和慈善帮扶",
    "招募青年志愿者参与环境整治",
    "建立应急救援队伍并开展演练",
    "为特困人员提供生活照料和护理",
    "推进五社联动机制建设",
    "购买社会工作服务提升基层治理能力",
    "关爱空巢老人开展节日慰问",
    "为困境儿童建立成长档案",
    "引导慈善资源精准对接困难群众需求",
]
RARE = ["瑶光", "星火计划", "暖心食堂", "银龄课堂", "彩虹桥", "知心姐姐", "蒲公英", "向日葵"]
STATUSES = {
    "project": ("live", "已发布"),
    "need": ("open", "对接中"),
    "organisation": ("verified", "已认证"),
    "opportunity": ("recruiting", "招募中"),
    "catalogue_item": ("listed", "列入服务清单"),
    "tender": ("published", "公告中"),
}


def documents(n: int, seed: int):
    """`n` seeded documents spread over the six types, twelve streets and twenty services."""
    rng = random.Random(seed)  # noqa: S311 - seeded test data
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for i in range(1, n + 1):
        doc_type = DOC_TYPES[i % len(DOC_TYPES)]
        street_no = rng.randrange(len(STREETS))
        service_no = rng.randrange(len(SERVICES))
        community = rng.choice(COMMUNITIES) + "社区"
        service = SERVICES[service_no]
        rare = rng.choice(RARE) if rng.random() < 0.02 else ""
        title = f"{STREETS[street_no]}{community}{rare}{service}项目"
        body = "，".join(rng.sample(PHRASES, 3)) + f"。服务对象约{rng.randrange(10, 500)}人。"
        status, label = STATUSES[doc_type]
        yield SearchDoc(
            type=doc_type,
            id=i,
            title=title,
            body=body,
            url=f"/{doc_type}/{i}/",
            street_id=street_no + 1,
            street=STREETS[street_no],
            service_type_id=service_no + 1,
            service_type=service,
            status=status,
            status_display=label,
            updated_at=start + timedelta(minutes=i),
        )


def queries(n: int, seed: int) -> list[SearchQuery]:
    """Mixed Chinese queries: common words, services, phrases, two words, rare names, single
    characters, numbers; every fourth one narrowed by a facet."""
    rng = random.Random(seed + 1)  # noqa: S311 - seeded test data
    pools = [
        ["服务", "社区", "老人", "志愿者", "困难家庭", "儿童"],
        SERVICES,
        ["心理疏导", "养老", "康复", "助餐", "法律援助", "临时救助", "五社联动"],
        [f"{a} {b}" for a in ("社区", "老人", "儿童", "残疾人") for b in ("助餐", "心理", "康复")],
        ["社区养老", "独居老人", "居家养老服务", "精神慰藉", "困境儿童成长档案"],
        RARE,
        ["老", "助", "暖"],
        ["明光路", "胜利路街道", "大兴镇", "龙岗"],
        ["2025", "120人"],
    ]
    out = []
    for i in range(n):
        q = rng.choice(rng.choice(pools))
        filters = {}
        if i % 4 == 3:
            pick = rng.randrange(3)
            if pick == 0:
                filters["types"] = (rng.choice(DOC_TYPES),)
            elif pick == 1:
                filters["street_id"] = rng.randrange(1, len(STREETS) + 1)
            else:
                filters["service_type_id"] = rng.randrange(1, len(SERVICES) + 1)
        out.append(SearchQuery(q=q, page=1 + (i % 10 == 9), **filters))
    return out


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def recall(backend: DatabaseBackend, phrases: list[str]) -> tuple[int, int]:
    """(documents whose title or body contains a phrase, of those the phrase matches)."""
    containing = found = 0
    for phrase in phrases:
        holders = set(
            SearchEntry.objects.filter(title__contains=phrase).values_list("doc_type", "object_id")
        ) | set(
            SearchEntry.objects.filter(body__contains=phrase).values_list("doc_type", "object_id")
        )
        containing += len(holders)
        found += len(holders & backend.match_keys(phrase))
    return containing, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--recall", type=int, default=12)
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument(
        "--reuse", action="store_true", help="keep the entries of an earlier run of the same size"
    )
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    backend = DatabaseBackend()
    print(f"database: {connection.vendor}  documents: {args.docs:,}")

    if args.reuse and SearchEntry.objects.count() == args.docs:
        print("load: skipped (--reuse)")
    else:
        started = time.perf_counter()
        loaded = backend.rebuild(documents(args.docs, args.seed))
        load_s = time.perf_counter() - started
        print(f"load: {loaded:,} documents in {load_s:.1f} s = {loaded / load_s:,.0f} docs/s")
    with connection.cursor() as cursor:
        cursor.execute(
            "VACUUM ANALYZE search_entry" if connection.vendor == "postgresql" else "ANALYZE"
        )

    batch = queries(args.queries, args.seed)
    for query in batch:  # warm-up: caches, planner, jieba
        backend.search(query)
    timings, counts = [], []
    for query in batch:
        t0 = time.perf_counter()
        result = backend.search(query)
        timings.append((time.perf_counter() - t0) * 1000)
        counts.append(result.count)
    print(
        f"queries: {len(batch)}  hits per query: median {statistics.median(counts):,.0f}, "
        f"max {max(counts):,}"
    )
    print(
        f"latency ms: p50 {pct(timings, 50):.1f}  p95 {pct(timings, 95):.1f}  "
        f"p99 {pct(timings, 99):.1f}  max {max(timings):.1f}  (target p95 <= 50)"
    )
    slow = sorted(zip(timings, batch, strict=True), key=lambda x: -x[0])[:5]
    for ms, q in slow:
        print(
            f"  slowest: {ms:6.1f} ms  q={q.q!r} types={q.types} street={q.street_id} "
            f"service_type={q.service_type_id} page={q.page}"
        )

    rng = random.Random(args.seed + 2)  # noqa: S311 - seeded test data
    phrases = rng.sample(
        ["养老", "心理疏导", "独居老人", "助餐", "精神慰藉", "五社联动", *RARE],
        k=min(args.recall, 14),
    )
    containing, found = recall(backend, phrases)
    print(f"recall: {found:,} of {containing:,} documents containing the phrase match it")


if __name__ == "__main__":
    main()
