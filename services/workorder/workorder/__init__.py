"""Workorder: repair orders from reception to hand-over (runs at every dealer site)."""
