import pytest
from django.core.exceptions import ValidationError

from marketplace.demo import credit_code_for
from marketplace.validators import (
    CREDIT_CODE_ALPHABET,
    credit_code_check_char,
    validate_credit_code,
)


def _make(first17: str) -> str:
    return first17 + credit_code_check_char(first17)


def test_check_character_follows_gb32100_weights():
    first17 = "91340102MA2N0000Q"
    # Weighted sum with weights 3^(i) mod 31, computed independently here.
    total = sum(CREDIT_CODE_ALPHABET.index(c) * pow(3, i, 31) for i, c in enumerate(first17))
    expected = CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]
    assert credit_code_check_char(first17) == expected


@pytest.mark.parametrize("n", [1, 2, 77, 999_999])
def test_generated_codes_validate(n):
    validate_credit_code(credit_code_for(n))


def test_lowercase_is_accepted_as_same_code():
    validate_credit_code(_make("52340102000000123").lower())


@pytest.mark.parametrize(
    ("code", "error_code"),
    [
        ("", "credit_code_length"),
        ("5234010200000012", "credit_code_length"),
        ("52340102O0000012X", "credit_code_length"),
        ("52340102I000001234", "credit_code_chars"),
        ("52340102-00000123X", "credit_code_chars"),
    ],
)
def test_malformed_codes_are_refused_with_reason(code, error_code):
    with pytest.raises(ValidationError) as exc:
        validate_credit_code(code)
    assert exc.value.code == error_code


def test_wrong_check_character_is_refused_in_chinese():
    good = credit_code_for(42)
    wrong = good[:17] + next(c for c in "0123456789" if c != good[17])
    with pytest.raises(ValidationError) as exc:
        validate_credit_code(wrong)
    assert exc.value.code == "credit_code_check"
    assert "校验位" in exc.value.messages[0]
