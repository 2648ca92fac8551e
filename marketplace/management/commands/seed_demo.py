import asyncio
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from marketplace.demo import DEMO_LOGINS, SIZES, DemoDataError, demo_seed


class Command(BaseCommand):
    help = "加载瑶海区演示数据（可重复运行，只创建缺少的数据）。"

    def add_arguments(self, parser):
        parser.add_argument("--size", choices=SIZES, default="small")
        parser.add_argument("--data", help="区划与组织数据文件（JSON），默认使用内置的瑶海区数据")

    def handle(self, *args, size, data, **options):
        try:
            report = _outside_event_loop(demo_seed, size=size, data_path=data)
        except DemoDataError as exc:
            raise CommandError(str(exc.message)) from exc
        created = ", ".join(f"{k} +{v}" for k, v in sorted(report.created.items())) or "无新增"
        self.stdout.write(self.style.SUCCESS(f"演示数据就绪（{size}）：{created}"))
        self.stdout.write(f"演示账号（密码均为 {settings.DEMO_PASSWORD}）：")
        for login in DEMO_LOGINS:
            where = f" @ {login.organisation}" if login.organisation else ""
            self.stdout.write(f"  {login.username:<10} {login.role.label}{where}")


def _outside_event_loop(func, **kwargs):
    """Run `func` here, or in a thread of its own when this thread runs an event loop (the
    command called from async code, or beside a browser driver): the demo's cases go through
    the services, which publish real-time events after commit with async_to_sync, and that
    cannot run in a thread whose event loop is running."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return func(**kwargs)

    def run():
        try:
            return func(**kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()
