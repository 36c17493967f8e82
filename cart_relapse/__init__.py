"""The ``cart-relapse`` command line (typer) and the end-to-end demo on synthetic data."""
