"""Booking: a dealer site's appointment book (runs at every dealer site)."""
