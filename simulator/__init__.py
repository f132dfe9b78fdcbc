"""Runs the platform for people to look at: the demo and its traffic."""
