"""One module per page; each has ``render(ctx) -> Page``."""
