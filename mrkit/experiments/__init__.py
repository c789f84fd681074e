"""Experiments: sweeps, the cost model and the report, built on the backends.

Imports point one way inside this layer, as tests/test_layers.py checks:

    root (analysis, formatting, meaning) <- sweeps <- model <- report

The root holds statistics, numbers in prose and what each sweep means; `sweeps`
runs configurations and records them; `model` calibrates and predicts from
recorded runs; `report` turns runs and predictions into text, figures and HTML.
A sub-package imports the root and the sub-packages before it, never one after.
"""
