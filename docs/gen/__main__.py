"""``python -m docs.gen``: regenerate the reference pages (``--anchors`` adds the slow anchor table).

``--check`` writes nothing and exits 1 naming every stale page.
"""

from __future__ import annotations

import argparse
import sys

from .pages import ANCHOR_PAGE, DOCS_DIR, FAST_PAGES, stale_pages, write_pages


def main(argv: list[str] | None = None) -> int:
    """Regenerate or check the generated pages.

    Args:
        argv: command-line arguments (``sys.argv[1:]`` by default).

    Returns:
        The exit status: 0, or 1 when ``--check`` found stale pages.
    """
    parser = argparse.ArgumentParser(prog="python -m docs.gen", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--anchors", action="store_true", help="also the anchor table (generates 30,000 patients)"
    )
    parser.add_argument("--only-anchors", action="store_true", help="only the anchor table")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a page is stale")
    args = parser.parse_args(argv)
    pages = (ANCHOR_PAGE,) if args.only_anchors else FAST_PAGES + ((ANCHOR_PAGE,) if args.anchors else ())
    if args.check:
        stale = stale_pages(pages)
        for path in stale:
            print(
                f"docs/{path} is stale: regenerate it with `make docs` (anchors: `make docs-anchors`)",
                file=sys.stderr,
            )
        return 1 if stale else 0
    written = write_pages(pages)
    for path in written:
        print(f"wrote {path.relative_to(DOCS_DIR.parent)}")
    print(f"{len(pages) - len(written)} of {len(pages)} generated pages already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
