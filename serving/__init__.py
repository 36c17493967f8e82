"""The prediction API (FastAPI), the clinician page, CDS Hooks services, batch scoring and drift checks."""
