"""District-scale demo data: how long `seed_demo --size district` takes, and what it makes.

    .venv/bin/python bench/seed_district.py                 # a fresh SQLite file in /tmp
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench .venv/bin/python bench/seed_district.py

Prints the time of the first run (everything created) and of a second run (idempotent:
nothing created), with row counts (directory, then households, needs and their records).
The database is migrated first; use an empty one.
"""

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
if "DATABASE_URL" not in os.environ:
    os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from marketplace.models import (  # noqa: E402
    Area,
    Case,
    CaseMember,
    Consent,
    Membership,
    Need,
    NeedTransition,
    Organisation,
    Referral,
    User,
    Warning,
)


def main() -> None:
    call_command("migrate", verbosity=0)
    for label in ("first run", "second run"):
        started = time.perf_counter()
        with open(os.devnull, "w") as quiet:
            call_command("seed_demo", size="district", verbosity=0, stdout=quiet)
        elapsed = time.perf_counter() - started
        print(f"{label}: {elapsed:.1f} s")
    print(
        f"areas={Area.objects.count()} organisations={Organisation.objects.count()} "
        f"users={User.objects.count()} memberships={Membership.objects.count()} "
        f"database={django.db.connection.vendor}"
    )
    print(
        f"cases={Case.objects.count()} members={CaseMember.objects.count()} "
        f"consents={Consent.objects.count()} needs={Need.objects.count()} "
        f"transitions={NeedTransition.objects.count()} referrals={Referral.objects.count()} "
        f"warnings={Warning.objects.count()}"
    )


if __name__ == "__main__":
    main()
