"""Tests of the ECS backend (a package, so its conftest does not shadow tests/conftest.py as `conftest`)."""
