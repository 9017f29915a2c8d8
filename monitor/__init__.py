"""envmon: environmental indicator monitoring for a district environmental bureau."""

__version__ = "0.1.0"
