"""HIIT PI: a home workout referee for the Raspberry Pi."""

__version__ = "0.1.0"
