"""mrkit's one version number, in a module of its own so that every layer may read it (pyproject.toml does too)."""

__version__ = "0.1.0"
