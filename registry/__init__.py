"""The colorectal cancer outcomes registry."""

__version__ = "0.1.0"
