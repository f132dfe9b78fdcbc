"""The portal's rules: pure, no I/O, no framework (what a page shows and when)."""
