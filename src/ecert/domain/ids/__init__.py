"""Identifiers of the registry: validation and (for synthetic data) generation. Pure, stdlib only.
One module per identifier; this package re-exports their public names (``from ecert.domain import
ids``; ``ids.parse_uscc(...)``).

* :mod:`.id_number` 居民身份证号 — GB 11643, check character ISO/IEC 7064 MOD 11-2.
* :mod:`.uscc` 统一社会信用代码 — GB 32100, check character MOD 31 over a 31-character alphabet.
* :mod:`.registration_no` 注册编号 — the registration number of a first-class constructor, current
  17-character form and legacy 13-character form (docs/rules.md "Registry data").
* :mod:`.elicence` 电子证照标识 — GB/T 36904 e-licence identifier, check character ISO/IEC 7064
  MOD 37,36 (R-DOC-3).
* :mod:`.shared` what they share: the ``(zh, en)`` message pair, the ASCII digits.

Every ``parse_*`` raises :class:`~ecert.domain.errors.BadInput` with one problem naming the import
column and saying, in Chinese and English, exactly what is wrong. These run on every row of a bulk
import, so tables are built once at import time and the happy path raises nothing.
"""

from __future__ import annotations

from ecert.domain.ids.elicence import (
    COL_IDENTIFIER,
    ELICENCE_ALPHABET,
    ELICENCE_ROOT,
    ElicenceId,
    elicence_check_char,
    make_elicence_id,
    parse_elicence_id,
)
from ecert.domain.ids.id_number import (
    COL_ID_NUMBER,
    ID_NUMBER_LENGTH,
    IdNumber,
    check_id_matches,
    id_number_check_char,
    id_number_if_matches,
    make_id_number,
    parse_id_number,
)
from ecert.domain.ids.registration_no import (
    COL_REGISTRATION_NO,
    REGISTRATION_NO_LEGACY_LENGTH,
    REGISTRATION_NO_LENGTH,
    RegistrationNo,
    make_registration_no,
    parse_registration_no,
    registration_no_province,
)
from ecert.domain.ids.uscc import (
    COL_EMPLOYER_USCC,
    USCC_CHARSET,
    USCC_LENGTH,
    check_uscc,
    make_uscc,
    parse_uscc,
    uscc_check_char,
)

__all__ = [
    "COL_EMPLOYER_USCC",
    "COL_IDENTIFIER",
    "COL_ID_NUMBER",
    "COL_REGISTRATION_NO",
    "ELICENCE_ALPHABET",
    "ELICENCE_ROOT",
    "ID_NUMBER_LENGTH",
    "REGISTRATION_NO_LEGACY_LENGTH",
    "REGISTRATION_NO_LENGTH",
    "USCC_CHARSET",
    "USCC_LENGTH",
    "ElicenceId",
    "IdNumber",
    "RegistrationNo",
    "check_id_matches",
    "check_uscc",
    "elicence_check_char",
    "id_number_check_char",
    "id_number_if_matches",
    "make_elicence_id",
    "make_id_number",
    "make_registration_no",
    "make_uscc",
    "parse_elicence_id",
    "parse_id_number",
    "parse_registration_no",
    "parse_uscc",
    "registration_no_province",
    "uscc_check_char",
]
