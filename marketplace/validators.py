"""Identifier checks from the national standards (see docs/quality)."""

import re
from datetime import date

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# GB 32100-2015: 31 characters, digits and capitals without I, O, Z, S, V.
CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = [pow(3, i, 31) for i in range(17)]


def credit_code_check_char(first17: str) -> str:
    """The check character for the first 17 characters of a unified social credit code."""
    total = sum(
        CREDIT_CODE_ALPHABET.index(ch) * w
        for ch, w in zip(first17, CREDIT_CODE_WEIGHTS, strict=True)
    )
    value = 31 - total % 31
    return CREDIT_CODE_ALPHABET[0 if value == 31 else value]


def validate_credit_code(value: str) -> None:
    """Refuse anything but an 18-character code whose check character is right."""
    code = (value or "").strip().upper()
    if len(code) != 18:
        raise ValidationError(
            _("统一社会信用代码应为18位，当前为%(length)d位。"),
            code="credit_code_length",
            params={"length": len(code)},
        )
    bad = [ch for ch in code if ch not in CREDIT_CODE_ALPHABET]
    if bad:
        raise ValidationError(
            _("统一社会信用代码含有无效字符：%(chars)s（不使用 I、O、Z、S、V）。"),
            code="credit_code_chars",
            params={"chars": "".join(sorted(set(bad)))},
        )
    if credit_code_check_char(code[:17]) != code[17]:
        raise ValidationError(
            _("统一社会信用代码校验位错误，请核对后重新输入。"),
            code="credit_code_check",
        )


# GB 11643-1999: weights of the first 17 digits and the check characters for sum mod 11.
RESIDENT_ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
RESIDENT_ID_CHECK = "10X98765432"


def resident_id_check_char(first17: str) -> str:
    """The check character for the first 17 digits of a resident ID number."""
    total = sum(int(d) * w for d, w in zip(first17, RESIDENT_ID_WEIGHTS, strict=True))
    return RESIDENT_ID_CHECK[total % 11]


def normalise_resident_id(value: str) -> str:
    """Upper-case, without spaces: the form every check and hash works on."""
    return (value or "").replace(" ", "").strip().upper()


def resident_id_birth_date(value: str) -> date:
    """The birth date a valid resident ID number carries; ValidationError when the number
    is malformed, its check character is wrong or its date is impossible or in the future."""
    number = normalise_resident_id(value)
    if len(number) != 18 or not number[:17].isdigit() or number[17] not in "0123456789X":
        raise ValidationError(
            _("身份证号码应为18位：前17位为数字，最后一位为数字或X。"), code="resident_id_format"
        )
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise ValidationError(
            _("身份证号码中的出生日期不存在，请核对。"), code="resident_id_birth_date"
        ) from None
    if born > timezone.localdate() or born.year < 1900:
        raise ValidationError(
            _("身份证号码中的出生日期不合理，请核对。"), code="resident_id_birth_date"
        )
    if resident_id_check_char(number[:17]) != number[17]:
        raise ValidationError(
            _("身份证号码校验位错误，请核对后重新输入。"), code="resident_id_check"
        )
    return born


def validate_resident_id(value: str) -> None:
    """Refuse anything but a well-formed resident ID number with a real birth date."""
    resident_id_birth_date(value)


PHONE_RE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")


def normalise_phone(value: str) -> str:
    return (value or "").replace(" ", "").strip()


def validate_phone(value: str) -> None:
    """A mainland mobile number (11 digits) or a fixed line with area code."""
    if not PHONE_RE.match(normalise_phone(value)):
        raise ValidationError(_("请输入11位手机号码，或带区号的固定电话。"), code="phone_format")
