"""The clinician page (``/ui/``).

Server-rendered HTML forms and inline SVG charts, no front-end build, no JavaScript needed, nothing fetched
from the network. ``form`` builds and reads the form from the catalogue, ``view`` and ``charts`` show a
prediction, ``session`` guards the page with the API token, ``render`` holds the Jinja2 templates.
docs/clinician-page.md describes what it shows.
"""
