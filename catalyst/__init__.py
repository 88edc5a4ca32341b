"""Catalyst: compile visual AI workflows into standalone, runnable Python."""

__version__ = "0.1.0"
