"""Generators of the documentation's reference pages (run ``python -m docs.gen``; see ``pages.py``).

Each page is rendered from the code or data it documents (the catalogue, the CLI, the FastAPI
app, the synthetic generator's anchor check) and committed; ``tests/docs`` fails when a committed
page differs from a fresh rendering, so the reference can never silently drift from the code.
"""
