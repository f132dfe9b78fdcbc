"""Parts: catalogue, stock, reservations and issues to repair orders (runs at every dealer site)."""
