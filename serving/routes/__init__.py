"""One module per route group: health, models, predict."""
