"""Experiments: sweeps, analysis, figures, notebooks and reports over timing records."""
