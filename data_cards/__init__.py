"""Dataset card rendering from a run's manifest."""
