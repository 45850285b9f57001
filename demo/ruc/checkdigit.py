"""The SUNAT RUC format: 11 digits, a known taxpayer-type prefix and a modulus-11 check digit."""

from __future__ import annotations

#: Taxpayer-type prefixes SUNAT issues: 10 natural persons, 15/16/17 other persons and
#: non-domiciled taxpayers, 20 legal entities.
VALID_PREFIXES: tuple[str, ...] = ("10", "15", "16", "17", "20")
#: Weights of the first ten digits, left to right.
WEIGHTS: tuple[int, ...] = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def check_digit(first_ten: str) -> int:
    """Return the check digit (11th digit) of a RUC whose first ten digits are ``first_ten``.

    ``check = 11 - (sum(digit * weight) % 11)``, where a result of 10 becomes 0 and 11 becomes 1.
    """
    if len(first_ten) != 10 or not first_ten.isascii() or not first_ten.isdigit():
        raise ValueError("first_ten must be exactly ten ASCII digits")
    total = sum(int(digit) * weight for digit, weight in zip(first_ten, WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: 0, 11: 1}.get(check, check)


def format_error(ruc: str) -> str | None:
    """Why ``ruc`` is not a well-formed RUC (a Spanish message for the API), or ``None`` if it is."""
    if len(ruc) != 11 or not ruc.isascii() or not ruc.isdigit():
        return "El RUC debe tener exactamente 11 dígitos."
    if ruc[:2] not in VALID_PREFIXES:
        return f"Prefijo {ruc[:2]} no válido (se admiten {', '.join(VALID_PREFIXES)})."
    expected = check_digit(ruc[:10])
    if int(ruc[10]) != expected:
        return f"Dígito verificador incorrecto (se esperaba {expected})."
    return None


def is_valid_ruc(ruc: str) -> bool:
    """True if ``ruc`` has 11 digits, a valid prefix and the right check digit."""
    return format_error(ruc) is None


def complete(first_ten: str) -> str:
    """Append the check digit to ``first_ten``: a well-formed RUC (used by the traffic generator)."""
    return first_ten + str(check_digit(first_ten))
