"""The CDS services: one ``patient-view`` service per landmark, with its prefetch templates.

Prefetch keys (the same for both services):

* ``patient``: ``Patient/{{context.patientId}}`` (sex, birth date for the age at apheresis, deceased);
* ``infusion``: the CAR-T infusion ``Procedure`` (its performed date is day 0) and the apheresis
  ``Procedure`` (the age at apheresis, the product and the vein-to-vein time), a searchset Bundle;
* ``observations``: a searchset Bundle of the patient's Observations with the catalogue's codes
  (preferred and alternate LOINC codes and the project codes) of the biomarkers the landmark reads.
"""

from __future__ import annotations

from dataclasses import dataclass

from features.catalogue import Catalogue
from features.fhir_terms import APHERESIS, BIOMARKER_SYSTEM, INFUSION, LOINC, PROCEDURE_SYSTEM

HOOK = "patient-view"
SERVICE_PREFIX = "cart-relapse-"
PREFETCH_KEYS = ("patient", "infusion", "observations")
_TITLES = {"preinfusion": "CAR-T relapse risk at infusion", "day30": "CAR-T relapse risk at day 30"}


@dataclass(frozen=True)
class CdsService:
    """One CDS service: the landmark it predicts at and what discovery shows."""

    id: str
    landmark: str
    day: int
    windows: tuple[str, ...]
    title: str
    description: str
    prefetch: dict[str, str]

    def discovery(self) -> dict[str, object]:
        """The service as ``GET /cds-services`` lists it."""
        return {
            "hook": HOOK,
            "title": self.title,
            "description": self.description,
            "id": self.id,
            "prefetch": dict(self.prefetch),
            "usageRequirements": USAGE,
        }


USAGE = (
    "Needs the three prefetch keys: this service never queries the EHR's FHIR server (it runs offline). "
    "CAR-T infusion and apheresis are Procedures coded in "
    "https://cart-relapse.dev/fhir/CodeSystem/procedure. "
    "The model is trained on synthetic data: not for clinical decisions."
)


def cds_services(catalogue: Catalogue) -> dict[str, CdsService]:
    """Every service, by id (``cart-relapse-<landmark>``), in catalogue landmark order.

    Args:
        catalogue: the biomarker catalogue (landmarks, windows and codes).
    """
    return {service.id: service for service in (_service(catalogue, name) for name in catalogue.landmarks)}


def service_id(landmark: str) -> str:
    """The CDS service id of a landmark (``cart-relapse-day30``)."""
    return f"{SERVICE_PREFIX}{landmark}"


def observation_codes(catalogue: Catalogue, landmark: str) -> list[str]:
    """``system|code`` tokens of every biomarker read at ``landmark``: LOINC codes, then project codes."""
    windows = set(catalogue.landmarks[landmark].windows)
    biomarkers = [b for b in catalogue.biomarkers if windows & set(b.windows)]
    return [f"{LOINC}|{code}" for b in biomarkers for code in b.loinc_codes] + [
        f"{BIOMARKER_SYSTEM}|{b.name}" for b in biomarkers
    ]


def _service(catalogue: Catalogue, landmark: str) -> CdsService:
    spec = catalogue.landmarks[landmark]
    procedures = ",".join(f"{PROCEDURE_SYSTEM}|{code}" for code in (INFUSION, APHERESIS))
    prefetch = {
        "patient": "Patient/{{context.patientId}}",
        "infusion": f"Procedure?patient={{{{context.patientId}}}}&code={procedures}",
        "observations": "Observation?patient={{context.patientId}}"
        f"&code={','.join(observation_codes(catalogue, landmark))}",
    }
    when = "on the infusion day" if spec.day == 0 else f"on day {spec.day} after infusion"
    description = (
        f"Risk of progression/relapse or death 3, 6, 12 and 24 months after CD19 CAR-T infusion, as "
        f"known {when} ({landmark} model: {spec.description}), with the main drivers (TreeSHAP). "
        "Trained on synthetic data."
    )
    return CdsService(
        id=service_id(landmark),
        landmark=landmark,
        day=int(spec.day),
        windows=tuple(spec.windows),
        title=_TITLES.get(landmark, f"CAR-T relapse risk ({landmark})"),
        description=description,
        prefetch=prefetch,
    )
