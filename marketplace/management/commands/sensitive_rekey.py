"""Key rotation: re-encrypt every stored ID number and phone under the current key
(README, "Sensitive data"). Safe to stop and run again."""

from cryptography.exceptions import InvalidTag
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from marketplace.services import sensitive_rekey


class Command(BaseCommand):
    help = "用当前密钥（SENSITIVE_DATA_KEY_ID）重新加密所有身份证号码和联系电话（密钥轮换）。"

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500, help="每批读取的行数（默认500）")

    def handle(self, *args, batch_size, **options):
        if batch_size < 1:
            raise CommandError(_("--batch-size 应为正整数。"))
        key_ids = [
            part.strip().partition(":")[0] for part in settings.SENSITIVE_DATA_KEYS.split(",")
        ]
        current = settings.SENSITIVE_DATA_KEY_ID
        if current not in key_ids:
            raise CommandError(
                _(
                    "SENSITIVE_DATA_KEY_ID“%(current)s”不在 SENSITIVE_DATA_KEYS 中"
                    "（现有密钥：%(ids)s）。请先把新密钥加入列表，再切换当前密钥。"
                )
                % {"current": current, "ids": "、".join(k for k in key_ids if k) or _("无")}
            )
        try:
            done = sensitive_rekey(batch_size=batch_size)
        except ImproperlyConfigured as exc:
            raise CommandError(
                _("密钥配置有误（%(error)s）。旧密钥须保留到重新加密完成之后。") % {"error": exc}
            ) from exc
        except InvalidTag as exc:
            raise CommandError(
                _("有密文无法用其密钥解密（密钥内容不对或数据已损坏），已停止。")
            ) from exc
        self.stdout.write(
            self.style.SUCCESS(
                _("已用密钥“%(key)s”重新加密 %(count)d 项敏感信息。")
                % {"key": current, "count": done}
            )
        )
