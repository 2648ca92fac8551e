"""Audit the ledger (README, "Funds and the ledger"): print its figures, exit 1 on any fault."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from charity.models import Fund
from charity.selectors.audit import ledger_verify

# Enough ids to find the rows; the count says how many there are.
SHOWN = 20


class Command(BaseCommand):
    help = "核对基金账目：每笔分录借贷平衡、账户余额等于明细合计、资产不为负、请求编号不重复记账。"

    def add_arguments(self, parser):
        parser.add_argument("--fund", metavar="CODE", help="只核对这个基金（基金编号）")

    def handle(self, *args, fund=None, **options):
        selected = None
        if fund:
            selected = Fund.objects.filter(code=fund).first()
            if selected is None:
                raise CommandError(_("没有编号为“%(code)s”的基金。") % {"code": fund})
        report = ledger_verify(fund=selected)
        scope = (
            _("基金：%(name)s（%(code)s）") % {"name": selected.name, "code": selected.code}
            if selected
            else _("范围：全部基金")
        )
        self.stdout.write(scope)
        self.stdout.write(
            _(
                "基金 %(funds)d 个，账户 %(accounts)d 个，"
                "分录 %(transactions)d 笔，明细 %(postings)d 行"
            )
            % {
                "funds": report.funds,
                "accounts": report.accounts,
                "transactions": report.transactions,
                "postings": report.postings,
            }
        )
        checks = [
            (_("借贷不平衡的分录"), report.unbalanced_transactions),
            (_("余额与明细合计不符的账户"), report.balance_mismatches),
            (_("余额为负的资产账户"), report.negative_assets),
            (_("重复记账的请求编号"), report.repeated_operations),
        ]
        for label, ids in checks:
            line = _("%(label)s：%(count)d") % {"label": label, "count": len(ids)}
            if ids:
                shown = "、".join(f"#{pk}" for pk in ids[:SHOWN])
                more = _("等") if len(ids) > SHOWN else ""
                self.stdout.write(self.style.ERROR(f"{line}（{shown}{more}）"))
            else:
                self.stdout.write(line)
        if not report.ok:
            raise CommandError(_("账目核对未通过，请按上面的编号逐笔检查。"), returncode=1)
        self.stdout.write(self.style.SUCCESS(_("账目核对通过。")))
