"""What a dataset layout yields: one :class:`CaseSpec` per case, naming its files and its role.

Roles decide where a case goes in the nnU-Net raw dataset:

- ``"train"``: labeled training case -> ``imagesTr`` + ``labelsTr`` (needs a lesion mask);
- ``"test"``: image-only test case -> ``imagesTs``;
- ``"unlabeled"``: target-domain image without labels -> ``imagesUnlabeledTr`` (Mean Teacher).

Example:
    >>> spec = CaseSpec("case1", "dwi.nii.gz", adc="adc.nii.gz", lesion="msk.nii.gz")
    >>> spec.role
    'train'
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from isla_nnunet.errors import ISLAError

ROLES = ("train", "test", "unlabeled")
# nnU-Net splits "CASE_0000.nii.gz" on the last underscore; keep identifiers to file-safe characters.
_CASE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def case_id_from_name(name: str) -> str:
    """A valid case id made from a file or folder name: accents dropped, other characters '_'.

    Ids a user types (a CSV's ``case_id``, ``--case-id``) are checked, not changed; ids the tool makes
    from file names are made valid, so a scan called ``Müller_dwi.nii.gz`` is not refused.

    Example:
        >>> case_id_from_name("Müller Ærø (2)")
        'Muller_r_2'
        >>> case_id_from_name("患者")
        'case'
    """
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", plain).strip("_.-")
    return cleaned or "case"


@dataclass(frozen=True)
class CaseSpec:
    """The inputs of one case.

    Attributes:
        case_id: nnU-Net case identifier (letters, digits, '_', '.', '-').
        dwi: trace DWI file or DICOM folder.
        adc: ADC file or DICOM folder (None: computed from ``b0``).
        b0: b = 0 image for computing the ADC.
        lesion: ground-truth lesion mask on the DWI grid.
        brain: brain mask file overriding the brain extraction method for this case.
        role: "train", "test" or "unlabeled"; default "train" with a lesion mask, else "test".
    """

    case_id: str
    dwi: str
    adc: str | None = None
    b0: str | None = None
    lesion: str | None = None
    brain: str | None = None
    role: str = ""

    def __post_init__(self) -> None:
        if not _CASE_ID.fullmatch(self.case_id):
            raise ISLAError(
                f"case id {self.case_id!r} has characters nnU-Net file names cannot hold: "
                "use letters, digits, '_', '.', '-'"
            )
        role = self.role or ("train" if self.lesion else "test")
        if role not in ROLES:
            raise ISLAError(f"case {self.case_id}: role {role!r} unknown: use one of {', '.join(ROLES)}")
        if role == "train" and not self.lesion:
            raise ISLAError(
                f"case {self.case_id} is a training case without a lesion mask: give the mask or "
                "mark it test/unlabeled"
            )
        object.__setattr__(self, "role", role)

    def with_role(self, role: str) -> CaseSpec:
        """A copy of this spec with another role (e.g. every case of a target domain as unlabeled)."""
        return CaseSpec(self.case_id, self.dwi, self.adc, self.b0, self.lesion, self.brain, role)


def check_unique(specs: list[CaseSpec]) -> list[CaseSpec]:
    """``specs`` unchanged, after checking that no case id appears twice.

    Raises:
        ISLAError: a duplicated case id.
    """
    seen: set[str] = set()
    for spec in specs:
        if spec.case_id in seen:
            raise ISLAError(f"case id {spec.case_id} appears twice: give every case its own id")
        seen.add(spec.case_id)
    return specs
