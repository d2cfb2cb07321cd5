"""Scores: paired image metrics, label metrics, paired evaluation, network summary."""
