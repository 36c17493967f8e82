"""Export a generated registry as FHIR R4: one Bundle per patient (``*.json``) or NDJSON per resource type.

The resources follow docs/fhir.md: a Patient (birthDate from the age at apheresis, managingOrganization
= the centre), a completed apheresis and CAR-T infusion Procedure (project codes, product in usedCode),
and one Observation per observation row (the preferred LOINC code or the project code, UCUM units,
times with the centre's UTC offset). With ``irregular=True`` some resources are exported the way
real senders produce them, for the tests and the demo: preliminary and entered-in-error versions
(ingest quarantines them), amended/corrected results whose first final version was wrong, ctDNA
zeros and low CRP values as ``<limit``, alternate LOINC codes, units as text without a UCUM code,
and an Encounter per few patients (not read).

Run ``python -m synth.fhir OUT --patients 200 --seed 7 --layout ndjson --irregular`` to write a folder.
"""

from __future__ import annotations

import argparse
import json
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.catalogue import Biomarker, load_catalogue
from features.fhir_terms import (
    APHERESIS,
    BIOMARKER_SYSTEM,
    INFUSION,
    LOINC,
    PROCEDURE_SYSTEM,
    PRODUCT_SYSTEM,
    UCUM,
)

LAYOUTS = ("ndjson", "bundle")
OBSERVATION_TABLES = ("clinical", "imaging", "ctdna", "cellular")
RATE = 0.03
"""Share of observation rows given each irregularity (when ``irregular``)."""
CRP_LIMIT = 0.3
"""mg/dL: CRP results below it are exported as ``<0.3 mg/dL`` (or ``<3 mg/L``) when ``irregular``."""
_NAMESPACE = uuid.UUID("6f1b0c3e-2f0d-4b8e-9a35-7c1e0c2a9d41")


@dataclass
class FhirExport:
    """What ``export_fhir`` wrote.

    Attributes:
        paths: the files written.
        resources: resources written, per resource type.
        irregular: how many of each irregularity were written.
        censored: (table, row index) of rows exported as ``<limit`` although their value is not 0:
            ingest stores them as 0 (the comparator rule), not as the registry value.
    """

    paths: list[Path] = field(default_factory=list)
    resources: dict[str, int] = field(default_factory=dict)
    irregular: dict[str, int] = field(default_factory=dict)
    censored: list[tuple[str, int]] = field(default_factory=list)


def export_fhir(
    tables: dict[str, pd.DataFrame],
    out_dir: Path,
    *,
    layout: str = "ndjson",
    irregular: bool = False,
    seed: int = 0,
    offset: str = "+01:00",
) -> FhirExport:
    """Write the registry's patients and observations as FHIR R4 resources.

    Args:
        tables: the tables of ``synth.generate_registry`` (outcomes are not exported: FHIR input
            carries no outcomes).
        out_dir: destination folder (created).
        layout: ``ndjson`` (Patient.ndjson, Procedure.ndjson, Observation.ndjson, ...) or ``bundle``
            (``<patient_id>.json``, a collection Bundle with urn:uuid fullUrls).
        irregular: add the irregularities listed in the module docstring.
        seed: random seed of the irregularities.
        offset: the UTC offset written on times (the registry's times are local).

    Returns:
        The files written and what they hold.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; expected one of {LAYOUTS}")
    export, rng = FhirExport(), np.random.default_rng(seed)
    resources: list[dict[str, Any]] = []
    for row in _records(tables["patients"]):
        resources += _patient_resources(row)
    observations = _Observations(export, rng, irregular, offset)
    for table in OBSERVATION_TABLES:
        frame = tables.get(table, pd.DataFrame())
        for index, row in zip(frame.index.tolist(), _records(frame), strict=True):
            resources += observations.of(table, int(index), row)
    if irregular:
        patients = tables["patients"].patient_id.tolist()
        for pid in patients[:: max(1, len(patients) // 5)]:
            resources.append(
                {
                    "resourceType": "Encounter",
                    "id": f"enc-{pid}",
                    "status": "finished",
                    "class": {"code": "AMB"},
                    "subject": {"reference": f"Patient/{pid}"},
                }
            )
            export.irregular["unsupported resource"] = export.irregular.get("unsupported resource", 0) + 1
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write = _write_ndjson if layout == "ndjson" else _write_bundles
    export.paths = write(resources, out_dir)
    for r in resources:
        export.resources[r["resourceType"]] = export.resources.get(r["resourceType"], 0) + 1
    return export


def _patient_resources(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The Patient and its apheresis and infusion Procedures."""
    pid, product = str(row["patient_id"]), str(row["product"])
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": pid,
        "managingOrganization": {"reference": f"Organization/{row['center']}"},
    }
    if _present(row.get("sex")):
        patient["gender"] = {"F": "female", "M": "male"}[str(row["sex"])]
    if _present(row.get("age")):
        patient["birthDate"] = _birth_date(str(row["apheresis_date"]), int(float(row["age"])))
    out = [patient, _procedure(pid, APHERESIS, str(row["apheresis_date"]), product)]
    if _present(row.get("infusion_date")):
        out.append(_procedure(pid, INFUSION, str(row["infusion_date"]), product))
    return out


def _procedure(pid: str, kind: str, day: str, product: str) -> dict[str, Any]:
    return {
        "resourceType": "Procedure",
        "id": f"{kind}-{pid}",
        "status": "completed",
        "code": {"coding": [{"system": PROCEDURE_SYSTEM, "code": kind}]},
        "subject": {"reference": f"Patient/{pid}"},
        "performedDateTime": day,
        "usedCode": [{"coding": [{"system": PRODUCT_SYSTEM, "code": product}]}],
    }


class _Observations:
    """Builds the Observation resources of one registry row (more than one when irregular)."""

    def __init__(self, export: FhirExport, rng: np.random.Generator, irregular: bool, offset: str) -> None:
        self.export, self.rng, self.irregular, self.offset = export, rng, irregular, offset
        self.catalogue = load_catalogue()
        self.ucum = {
            s: code for code, spellings in reversed(self.catalogue.ucum_units.items()) for s in spellings
        }

    def of(self, table: str, index: int, row: dict[str, Any]) -> list[dict[str, Any]]:
        """The Observation(s) of row ``index`` of ``table``."""
        try:
            biomarker = self.catalogue.biomarker(str(row["biomarker"]))
        except KeyError:
            return []  # not a catalogue biomarker: there is no code to export it under
        base = self._final(f"{table}-{index}", biomarker, row)
        if not self.irregular:
            return [base]
        return self._irregular(table, index, biomarker, row, base)

    def _final(self, oid: str, biomarker: Biomarker, row: dict[str, Any]) -> dict[str, Any]:
        reported = row.get("reported_at") if _present(row.get("reported_at")) else row["collected_at"]
        resource: dict[str, Any] = {
            "resourceType": "Observation",
            "id": oid,
            "status": "final",
            "code": {"coding": [_code(biomarker)]},
            "subject": {"reference": f"Patient/{row['patient_id']}"},
            "effectiveDateTime": self._time(str(row["collected_at"]), date_only=True),
            "issued": self._time(str(reported)),
        }
        resource |= _value(biomarker, str(row["value"]), str(row.get("unit") or ""), self.ucum)
        if _present(row.get("reference_high")) and "valueQuantity" in resource:
            high = {k: v for k, v in resource["valueQuantity"].items() if k != "value"}
            resource["referenceRange"] = [{"high": {"value": float(row["reference_high"]), **high}}]
        return resource

    def _irregular(
        self,
        table: str,
        index: int,
        biomarker: Biomarker,
        row: dict[str, Any],
        base: dict[str, Any],
    ) -> list[dict[str, Any]]:
        before, after, draw = [], [], self.rng.random(5)
        quantity = base.get("valueQuantity")
        if biomarker.loinc_alt and draw[0] < 0.3:
            base["code"]["coding"] = [{"system": LOINC, "code": str(self.rng.choice(biomarker.loinc_alt))}]
            self._count("alternate LOINC code")
        if quantity and draw[1] < RATE and "code" in quantity:
            quantity.pop("system"), quantity.pop("code")
            self._count("unit as text only")
        censored = quantity is not None and self._censor(biomarker, quantity)
        if censored and float(row["value"]) != 0:
            self.export.censored.append((table, index))
        if quantity and not censored and draw[2] < RATE and len(str(row.get("reported_at") or "")) == 10:
            before.append(self._amend(base))
        if draw[3] < RATE:
            before.insert(0, self._version(base, "preliminary"))
        if draw[4] < RATE:
            after.append(self._version(base, "entered-in-error") | {"id": f"{base['id']}-eie"})
        return [*before, base, *after]

    def _censor(self, biomarker: Biomarker, quantity: dict[str, Any]) -> bool:
        """CtDNA zeros become ``<0.5``; CRP below 0.3 mg/dL becomes ``<0.3 mg/dL`` / ``<3 mg/L``."""
        factor = biomarker.unit_factor(quantity.get("unit", "")) or 1.0
        if biomarker.name == "ctdna" and quantity["value"] == 0:
            limit = 0.5
        elif biomarker.name == "crp" and quantity["value"] * factor < CRP_LIMIT:
            limit = CRP_LIMIT / factor
        else:
            return False
        quantity |= {"comparator": "<", "value": round(limit, 6)}
        self._count("comparator")
        return True

    def _amend(self, base: dict[str, Any]) -> dict[str, Any]:
        """Make ``base`` an amended (or corrected) version and return its first, final version.

        The amended version is issued at 09:00 on its report day; the first is a wrong value issued at 00:00
        that day (both are stored; from that day on point-in-time retrieval sees the amended one, as it sees
        the registry row).
        """
        first = self._version(base, "final", count=False) | {"meta": {"versionId": "1"}}
        status = "amended" if self.rng.random() < 0.5 else "corrected"
        base |= {
            "status": status,
            "meta": {"versionId": "2"},
            "issued": base["issued"].replace("T00:00:00", "T09:00:00"),
        }
        self._count(status)
        return first

    def _version(self, base: dict[str, Any], status: str, count: bool = True) -> dict[str, Any]:
        """A copy of ``base`` with another status and, for a quantity, another value."""
        other: dict[str, Any] = json.loads(json.dumps(base)) | {"status": status}
        if "valueQuantity" in other:
            # 20% low: a wrong value that stays inside every catalogue range
            # (20% high broke albumin's 6.5 g/dL)
            other["valueQuantity"]["value"] = round(float(other["valueQuantity"]["value"]) * 0.8, 6)
        if count:
            self._count(status)
        return other

    def _count(self, what: str) -> None:
        self.export.irregular[what] = self.export.irregular.get(what, 0) + 1

    def _time(self, text: str, date_only: bool = False) -> str:
        """Registry date/time text as a FHIR dateTime (a bare date stays one when allowed) or instant."""
        if date_only and len(text) == 10:
            return text
        stamp = text if len(text) > 10 else f"{text}T00:00:00"
        stamp = stamp.replace(" ", "T")
        return (stamp if len(stamp) > 16 else stamp + ":00") + self.offset


def _code(biomarker: Biomarker) -> dict[str, str]:
    if biomarker.loinc:
        return {"system": LOINC, "code": biomarker.loinc}
    return {"system": BIOMARKER_SYSTEM, "code": biomarker.name}


def _value(biomarker: Biomarker, value: str, unit: str, ucum: dict[str, str]) -> dict[str, Any]:
    """``value[x]`` of a registry value.

    A quantity (UCUM code when the catalogue has one), an integer, a boolean, or a category level as
    CodeableConcept text; text that is not a number of the biomarker's type is exported as valueString (ingest
    quarantines it).
    """
    if biomarker.type == "category":
        return {"valueCodeableConcept": {"text": value}}
    try:
        number = float(value)
    except ValueError:
        return {"valueString": value}
    if biomarker.type == "bool":
        return {"valueBoolean": bool(number)}
    if biomarker.type == "int" and number == int(number):
        return {"valueInteger": int(number)}
    quantity: dict[str, Any] = {"value": number, "unit": unit}
    if unit in ucum:
        quantity |= {"system": UCUM, "code": ucum[unit]}
    return {"valueQuantity": quantity if unit else {"value": number}}


def _birth_date(apheresis: str, age: int) -> str:
    """A birth date giving exactly ``age`` whole years on the apheresis day."""
    day = date.fromisoformat(apheresis[:10])
    try:
        return day.replace(year=day.year - age).isoformat()
    except ValueError:  # 29 February
        return day.replace(year=day.year - age, day=28).isoformat()


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and np.isnan(value)) and str(value) != ""


def _write_ndjson(resources: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    by_type: dict[str, list[str]] = {}
    for r in resources:
        by_type.setdefault(r["resourceType"], []).append(json.dumps(r, separators=(",", ":")))
    paths = []
    for kind, lines in by_type.items():
        path = out_dir / f"{kind}.ndjson"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def _write_bundles(resources: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    """One collection Bundle per patient.

    Entries have urn:uuid fullUrls; subjects point at the Patient's fullUrl when the Patient is in the Bundle.
    """
    by_patient: dict[str, list[dict[str, Any]]] = {}
    for r in resources:
        pid = r["id"] if r["resourceType"] == "Patient" else r["subject"]["reference"].split("/", 1)[1]
        by_patient.setdefault(pid, []).append(r)
    paths = []
    for pid, own in by_patient.items():
        patient_url = f"urn:uuid:{uuid.uuid5(_NAMESPACE, 'Patient/' + pid)}"
        has_patient = any(r["resourceType"] == "Patient" for r in own)
        entries = []
        for n, r in enumerate(own):
            if has_patient and "subject" in r:
                r = r | {"subject": {"reference": patient_url}}
            own_url = f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{pid}/{n}')}"
            url = patient_url if r["resourceType"] == "Patient" else own_url
            entries.append({"fullUrl": url, "resource": r})
        path = out_dir / f"{pid}.json"
        bundle = {"resourceType": "Bundle", "type": "collection", "entry": entries}
        path.write_text(json.dumps(bundle), "utf-8")
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> None:
    """Generate a synthetic registry and write it as FHIR (``python -m synth.fhir --help``)."""
    from synth import generate_registry  # the public API (the package is being reorganised)

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--layout", choices=LAYOUTS, default="ndjson")
    parser.add_argument(
        "--irregular", action="store_true", help="add the irregularities real senders produce"
    )
    args = parser.parse_args(argv)
    export = export_fhir(
        generate_registry(args.patients, args.seed),
        args.out,
        layout=args.layout,
        irregular=args.irregular,
        seed=args.seed,
    )
    print(f"wrote {len(export.paths)} files to {args.out}: {export.resources}; irregular: {export.irregular}")


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The frame's rows as dicts by column name."""
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


if __name__ == "__main__":
    main()
