"""The SUNAT RUC check digit (modulus 11, weights 5 4 3 2 7 6 5 4 3 2)."""

from __future__ import annotations

import pytest
from ruc.checkdigit import check_digit, complete, format_error, is_valid_ruc

#: Real RUCs (SUNAT, Continental, BCP, Supermercados Peruanos): their last digit is right.
KNOWN_VALID = ["20100038146", "20131312955", "20100047218", "20100070970"]


@pytest.mark.parametrize("ruc", KNOWN_VALID)
def test_known_rucs_are_valid(ruc: str) -> None:
    assert is_valid_ruc(ruc)
    assert check_digit(ruc[:10]) == int(ruc[10])


def test_worked_example() -> None:
    # 2*5 + 0*4 + 1*3 + 0*2 + 0*7 + 0*6 + 3*5 + 8*4 + 1*3 + 4*2 = 71; 71 % 11 = 5; 11 - 5 = 6
    assert check_digit("2010003814") == 6


@pytest.mark.parametrize(
    ("first_ten", "expected"),
    [
        ("2010007097", 0),  # sum 89, 89 % 11 = 1 -> 11 - 1 = 10 -> 0
        ("2000000000", 1),  # sum 10, 10 % 11 = 10 -> 11 - 10 = 1
        ("2000000006", 1),  # sum 22, 22 % 11 = 0 -> 11 - 0 = 11 -> 1
    ],
)
def test_ten_and_eleven_wrap_to_zero_and_one(first_ten: str, expected: int) -> None:
    total = sum(int(d) * w for d, w in zip(first_ten, (5, 4, 3, 2, 7, 6, 5, 4, 3, 2), strict=True))
    raw = 11 - total % 11
    assert check_digit(first_ten) == {10: 0, 11: 1}.get(raw, raw) == expected


def test_a_sum_divisible_by_eleven_gives_one() -> None:
    assert is_valid_ruc("20000000061")  # 2*5 + 6*2 = 22 -> 11 -> 1
    assert not is_valid_ruc("20000000060")


@pytest.mark.parametrize("ruc", KNOWN_VALID)
def test_every_other_check_digit_is_rejected(ruc: str) -> None:
    for digit in "0123456789":
        mutated = ruc[:10] + digit
        assert is_valid_ruc(mutated) == (digit == ruc[10])
        if digit != ruc[10]:
            assert "verificador" in (format_error(mutated) or "")


@pytest.mark.parametrize("ruc", KNOWN_VALID)
def test_single_digit_changes_in_the_body_are_caught(ruc: str) -> None:
    # Weights are non-zero mod 11, so a one-digit change always changes sum % 11; it slips
    # through only where two remainders map to the same digit (10 -> 1 and 0 -> 1).
    caught = 0
    for position in range(2, 10):
        for digit in "0123456789":
            if digit == ruc[position]:
                continue
            mutated = ruc[:position] + digit + ruc[position + 1 :]
            expected = check_digit(mutated[:10]) == int(mutated[10])
            assert is_valid_ruc(mutated) == expected
            caught += not expected
    assert caught >= 8 * 9 * 0.85


@pytest.mark.parametrize("ruc", ["20100038164", "20100083146", "21000038146"])
def test_adjacent_transpositions_of_a_valid_ruc(ruc: str) -> None:
    assert not is_valid_ruc(ruc)


@pytest.mark.parametrize(
    ("ruc", "fragment"),
    [
        ("2010003814", "11 dígitos"),
        ("201000381466", "11 dígitos"),
        ("2010003814a", "11 dígitos"),
        ("２０１０００３８１４６", "11 dígitos"),  # full-width digits are not ASCII digits
        ("", "11 dígitos"),
        (complete("3010003814"), "Prefijo 30"),
        (complete("1110003814"), "Prefijo 11"),
    ],
)
def test_malformed_inputs(ruc: str, fragment: str) -> None:
    assert not is_valid_ruc(ruc)
    assert fragment in (format_error(ruc) or "")


@pytest.mark.parametrize("prefix", ["10", "15", "16", "17", "20"])
def test_every_valid_prefix_is_accepted(prefix: str) -> None:
    assert is_valid_ruc(complete(prefix + "12345678"))


def test_check_digit_needs_ten_digits() -> None:
    with pytest.raises(ValueError):
        check_digit("123")
