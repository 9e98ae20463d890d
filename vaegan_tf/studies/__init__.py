"""Experiment bodies: each builds data, model and run from a frozen config, then trains, measures, records."""
