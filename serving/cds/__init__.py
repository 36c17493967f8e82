"""CDS Hooks 2.0 (``patient-view``): one service per landmark on the same server as the API.

``services`` describes them (discovery and prefetch templates), ``prefetch`` reads what the EHR sent,
``point_in_time`` turns it into the features a client would send to ``POST /v1/predict/{landmark}``,
``cards`` answers, ``auth`` verifies the EHR's JWT. docs/cds-hooks.md documents the whole service.
"""
