"""The package's version, in a module of its own: every layer may import it without importing
the package root (which re-exports it, with the constructs)."""

__version__ = "0.1.0"
