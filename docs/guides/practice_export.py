"""Write a practice registry export: the synthetic registry in the shapes hospital registries export.

docs/guides/train-your-registry.md maps these files into the raw registry format; without a registry of
your own, run ``python docs/guides/practice_export.py --out registry/export`` to follow it. The files:

* ``patients.csv``: one row per patient (a registry case-report form): site, sex, date of birth, product
  brand name, apheresis and infusion dates (dd/mm/yyyy), the disease history recorded at apheresis and the
  pre-lymphodepletion assessment;
* ``labs.csv``: a wide laboratory sheet, one row per report, with value, unit and upper-limit (ULN)
  columns per analyte, in each site's unit spellings; this registry does not export ferritin;
* ``pet.csv``: one row per PET report (baseline or day 30): SUVmax, MTV with its unit, TLG, Deauville;
* ``assays.csv``: ctDNA and cellular research assays, one row per result, named as the laboratory names
  them; ctDNA below the limit of detection is ``<LOD``;
* ``outcomes.csv``: progression (Yes/No) and its date, vital status and date of death, last contact.

A few rows carry the problems real exports have (each is named in ``PROBLEMS``), so the ingest has
something to quarantine. The values are the synthetic registry's (``synth.generate_registry``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from synth import generate_registry

LABS = {
    "ldh": "LDH",
    "crp": "CRP",
    "albumin": "Albumin",
    "platelets": "Platelets",
    "anc": "ANC",
    "alc": "ALC",
    "hemoglobin": "Hb",
    "creatinine": "Creatinine",
    "bilirubin": "Bilirubin",
    "il6": "IL-6",
}
LAB_UNIT_SPELLINGS = {"umol/L": "µmol/L", "10^9/L": "x10^9/L"}
"""How the laboratory system spells some units (at every site)."""
LOWERCASE_SITE = "C02"
"""The site whose laboratory system writes ``mg/dl`` for mg/dL."""
ASSAYS = {
    "ctdna": "ctDNA",
    "cd3_count": "CD3 abs",
    "cd4_count": "CD4 abs",
    "cd8_count": "CD8 abs",
    "cd8_naive_pct": "CD8 naive %",
    "monocyte_pct": "Monocytes % (product)",
    "product_tn_pct": "Product naive T %",
    "car_peak": "CAR-T peak",
    "car_day28": "CAR-T day 28",
    "car_treg_pct": "CAR-Treg %",
    "pd1_pct": "PD-1+ CAR %",
}
HISTORY = {
    "ecog": "ECOG (apheresis)",
    "stage": "Stage",
    "extranodal_sites": "Extranodal sites",
    "prior_lines": "Prior lines",
    "primary_refractory": "Primary refractory",
    "bendamustine_exposed": "Bendamustine",
    "bendamustine_washout": "Months since bendamustine",
    "cirs": "CIRS",
    "cell_of_origin": "Cell of origin",
    "double_hit": "Double hit",
    "tp53_altered": "TP53 altered",
}
PRE_LD = {"ecog": "ECOG (pre-LD)", "bridging_type": "Bridging", "bridging_response": "Bridging response"}
YES_NO = ("primary_refractory", "bendamustine_exposed", "double_hit", "tp53_altered")
BRANDS = {"axi-cel": "Yescarta", "tisa-cel": "Kymriah", "liso-cel": "Breyanzi"}
ROMAN = {"1": "I", "2": "II", "3": "III", "4": "IV"}
PRE_LD_DAYS = (-14, -3)
PROBLEMS = {
    "labs": "haemolysed LDH samples (text as the value); results dated before the sample; a report exported "
    "twice; reports for a patient id with a typo; albumin in g/L written under g/dL; CRP in mg/dl at "
    f"site {LOWERCASE_SITE}",
    "patients": "one infusion date typed a year early (before the apheresis)",
    "pet": "scan dates that do not exist (31/02)",
    "assays": "an assay the catalogue does not have (CD19 abs)",
    "outcomes": "progression ticked without a date; a progression dated after the death",
}


def write_practice_export(out: Path, *, patients: int = 1500, seed: int = 3) -> list[Path]:
    """Write the five export files into ``out`` (created).

    Args:
        out: destination folder.
        patients: apheresed patients of the synthetic registry.
        seed: its random seed (the same seed gives the same files).

    Returns:
        The files written.
    """
    tables = generate_registry(patients, seed)
    rng = np.random.default_rng(seed)
    sheets = {
        "patients": _with_bad_infusion_date(patient_sheet(tables), rng),
        "labs": _with_lab_problems(lab_sheet(tables["clinical"], tables["patients"]), rng),
        "pet": _with_bad_scan_dates(pet_sheet(tables["imaging"], tables["patients"]), rng),
        "assays": _with_unknown_assay(assay_sheet(tables["ctdna"], tables["cellular"]), rng),
        "outcomes": _with_outcome_problems(outcome_sheet(tables["outcomes"]), rng),
    }
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, sheet in sheets.items():
        paths.append(out / f"{name}.csv")
        sheet.to_csv(paths[-1], index=False)
    return paths


def patient_sheet(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per patient: demographics, product brand, dates (dd/mm/yyyy), history and pre-LD items."""
    p = tables["patients"]
    apheresis = pd.to_datetime(p["apheresis_date"])
    sheet = pd.DataFrame(
        {
            "Study ID": p["patient_id"],
            "Site": p["center"],
            "Sex": p["sex"].map({"F": "Female", "M": "Male"}).fillna(""),
            "Date of birth": [
                _birth_date(day, age, i) for i, (day, age) in enumerate(zip(apheresis, p["age"], strict=True))
            ],
            "Product": p["product"].map(BRANDS),
            "Apheresis date": _dmy(apheresis),
            "Infusion date": _dmy(pd.to_datetime(p["infusion_date"])),
        }
    )
    items = _clinical_items(tables["clinical"], p)
    history = _spread(items[~items["pre_ld"] & items["biomarker"].isin(HISTORY)], HISTORY, "Baseline date")
    pre_ld = _spread(items[items["pre_ld"] & items["biomarker"].isin(PRE_LD)], PRE_LD, "Pre-LD date")
    return sheet.merge(history, on="Study ID", how="left").merge(pre_ld, on="Study ID", how="left").fillna("")


def lab_sheet(clinical: pd.DataFrame, patients: pd.DataFrame) -> pd.DataFrame:
    """One row per laboratory report: ``<analyte>``, ``<analyte> unit`` and (if known) ``<analyte> ULN``."""
    rows = clinical[clinical["biomarker"].isin(LABS)].copy()
    rows["unit"] = rows["unit"].replace(LAB_UNIT_SPELLINGS)
    rows["reference_high"] = [None if pd.isna(v) else f"{float(v):.4g}" for v in rows["reference_high"]]
    site = rows["patient_id"].map(patients.set_index("patient_id")["center"])
    rows.loc[(site == LOWERCASE_SITE) & (rows["unit"] == "mg/dL") & (rows["biomarker"] == "crp"), "unit"] = (
        "mg/dl"
    )
    keys = ["patient_id", "collected_at", "reported_at"]
    wide = rows.pivot_table(
        index=keys, columns="biomarker", values=["value", "unit", "reference_high"], aggfunc="first"
    )
    sheet = pd.DataFrame(index=wide.index)
    for biomarker, label in LABS.items():
        sheet[label] = wide["value"].get(biomarker)
        sheet[f"{label} unit"] = wide["unit"].get(biomarker)
        if "reference_high" in wide and biomarker in wide["reference_high"]:
            sheet[f"{label} ULN"] = wide["reference_high"][biomarker]
    sheet = sheet.reset_index().rename(
        columns={"patient_id": "Study ID", "collected_at": "Sample date", "reported_at": "Result date"}
    )
    return sheet.sort_values(["Study ID", "Sample date"], kind="stable").fillna("")


def pet_sheet(imaging: pd.DataFrame, patients: pd.DataFrame) -> pd.DataFrame:
    """One row per PET report: dates (dd/mm/yyyy), timepoint, SUVmax, MTV and its unit, TLG, Deauville."""
    wide = imaging.pivot_table(
        index=["patient_id", "collected_at", "reported_at"],
        columns="biomarker",
        values=["value", "unit"],
        aggfunc="first",
    ).reset_index()
    value, unit = wide["value"], wide["unit"]
    scan = pd.to_datetime(wide["collected_at"])
    infusion = pd.to_datetime(wide["patient_id"].map(patients.set_index("patient_id")["infusion_date"]))
    sheet = pd.DataFrame(
        {
            "Study ID": wide["patient_id"],
            "Scan date": _dmy(scan),
            "Report date": _dmy(pd.to_datetime(wide["reported_at"])),
            "Timepoint": np.where(scan > infusion, "Day 30", "Baseline"),
            "SUVmax": value.get("suvmax"),
            "MTV": value.get("tmtv"),
            "MTV unit": unit.get("tmtv"),
            "TLG": value.get("tlg"),
            "Deauville": value.get("deauville"),
        }
    )
    return sheet.fillna("")


def assay_sheet(ctdna: pd.DataFrame, cellular: pd.DataFrame) -> pd.DataFrame:
    """CtDNA and cellular assays, long, with the laboratory's assay names; undetectable ctDNA as ``<LOD``."""
    rows = pd.concat([ctdna, cellular], ignore_index=True)
    value = rows["value"].where(~((rows["biomarker"] == "ctdna") & (rows["value"] == "0")), "<LOD")
    return pd.DataFrame(
        {
            "Study ID": rows["patient_id"],
            "Assay": rows["biomarker"].map(ASSAYS),
            "Result": value,
            "Unit": rows["unit"],
            "Sample date": rows["collected_at"],
            "Result date": rows["reported_at"],
        }
    ).fillna("")


def outcome_sheet(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Progression Yes/No and date, vital status and date of death, last contact (dd/mm/yyyy)."""
    progressed, died = outcomes["progression_date"].notna(), outcomes["death_date"].notna()
    return pd.DataFrame(
        {
            "Study ID": outcomes["patient_id"],
            "Progression": np.where(progressed, "Yes", "No"),
            "Progression date": _dmy(pd.to_datetime(outcomes["progression_date"])),
            "Vital status": np.where(died, "Dead", "Alive"),
            "Date of death": _dmy(pd.to_datetime(outcomes["death_date"])),
            "Last contact": _dmy(pd.to_datetime(outcomes["last_followup_date"])),
        }
    )


def main(argv: list[str] | None = None) -> None:
    """``python docs/guides/practice_export.py --out DIR [--patients N] [--seed S]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write the export into")
    parser.add_argument("--patients", type=int, default=1500, help="apheresed patients")
    parser.add_argument("--seed", type=int, default=3, help="random seed")
    args = parser.parse_args(argv)
    for path in write_practice_export(args.out, patients=args.patients, seed=args.seed):
        rows = sum(1 for _ in path.open(encoding="utf-8")) - 1
        print(f"wrote {path} ({rows:,} rows)")


def _clinical_items(clinical: pd.DataFrame, patients: pd.DataFrame) -> pd.DataFrame:
    """History and pre-LD rows, with ``pre_ld`` true if collected on day -14 to -3 (pre-lymphodepletion)."""
    items = clinical[clinical["biomarker"].isin({*HISTORY, *PRE_LD})].copy()
    infusion = pd.to_datetime(items["patient_id"].map(patients.set_index("patient_id")["infusion_date"]))
    day = (pd.to_datetime(items["collected_at"]) - infusion).dt.days
    items["pre_ld"] = day.between(*PRE_LD_DAYS)
    return items


def _spread(items: pd.DataFrame, labels: dict[str, str], date_column: str) -> pd.DataFrame:
    """One row per patient, one column per item (export spellings), and the earliest collection date."""
    values = items.assign(
        value=[_export_value(b, v) for b, v in zip(items["biomarker"], items["value"], strict=True)]
    )
    wide = values.pivot_table(index="patient_id", columns="biomarker", values="value", aggfunc="last")
    wide = wide.reindex(columns=list(labels)).rename(columns=labels)
    wide[date_column] = _dmy(pd.to_datetime(items.groupby("patient_id")["collected_at"].min())).reindex(
        wide.index
    )
    return wide.rename_axis(None, axis=1).reset_index().rename(columns={"patient_id": "Study ID"})


def _export_value(biomarker: str, value: str) -> str:
    if biomarker in YES_NO:
        return "Yes" if value in ("1", "true") else "No"
    if biomarker == "stage":
        return ROMAN.get(value, value)
    if biomarker == "bridging_type":
        return value.capitalize()
    if biomarker == "bridging_response" and value == "none":
        return "Not bridged"
    return value


def _birth_date(apheresis: pd.Timestamp, age: object, index: int) -> str:
    """A date of birth that makes ``age`` the whole years at apheresis (a fixed day within the year)."""
    if pd.isna(age) or age in ("", None):
        return ""
    born = apheresis - pd.DateOffset(years=int(age)) - pd.Timedelta(days=(index * 37) % 365)
    return born.strftime("%d/%m/%Y")


def _dmy(dates: pd.Series) -> pd.Series:
    return dates.dt.strftime("%d/%m/%Y").fillna("")


def _with_lab_problems(sheet: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    sheet = sheet.reset_index(drop=True)
    pick = lambda column, k: rng.choice(sheet.index[sheet[column] != ""], size=k, replace=False)  # noqa: E731
    sheet.loc[pick("LDH", 3), "LDH"] = "haemolysed"
    early = pick("Sample date", 3)
    sheet.loc[early, "Result date"] = (
        pd.to_datetime(sheet.loc[early, "Sample date"]) - pd.Timedelta(days=2)
    ).dt.strftime("%Y-%m-%d")
    albumin = rng.choice(sheet.index[sheet["Albumin unit"] == "g/dL"], size=3, replace=False)
    grams_per_litre = pd.to_numeric(sheet.loc[albumin, "Albumin"]) * 10
    sheet.loc[albumin, "Albumin"] = grams_per_litre.round(1).astype(str)  # written under g/dL
    typo = sheet.loc[pick("Study ID", 2)].assign(
        **{"Study ID": lambda s: s["Study ID"].str.replace("P00", "P0O")}
    )
    return pd.concat([sheet, sheet.loc[pick("LDH", 2)], typo], ignore_index=True)


def _with_bad_infusion_date(sheet: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    row = rng.choice(sheet.index[sheet["Infusion date"] != ""])
    day, month, year = sheet.loc[row, "Infusion date"].split("/")
    sheet.loc[row, "Infusion date"] = f"{day}/{month}/{int(year) - 1}"
    return sheet


def _with_bad_scan_dates(sheet: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    rows = rng.choice(sheet.index, size=2, replace=False)
    sheet.loc[rows, "Scan date"] = ["31/02/" + d[-4:] for d in sheet.loc[rows, "Scan date"]]
    return sheet


def _with_unknown_assay(sheet: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    cd3 = sheet[sheet["Assay"] == "CD3 abs"]
    extra = cd3.loc[rng.choice(cd3.index, size=5, replace=False)].assign(Assay="CD19 abs", Result="42")
    return pd.concat([sheet, extra], ignore_index=True)


def _with_outcome_problems(sheet: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    progressed = sheet.index[sheet["Progression"] == "Yes"]
    undated = rng.choice(progressed, size=2, replace=False)
    sheet.loc[undated, "Progression date"] = ""
    both = sheet.index[(sheet["Progression"] == "Yes") & (sheet["Vital status"] == "Dead")].difference(
        undated
    )
    late = rng.choice(both)
    sheet.loc[late, "Progression date"] = _dmy(
        pd.to_datetime(pd.Series([sheet.loc[late, "Date of death"]]), format="%d/%m/%Y")
        + pd.Timedelta(days=10)
    ).iloc[0]
    return sheet


if __name__ == "__main__":
    main()
