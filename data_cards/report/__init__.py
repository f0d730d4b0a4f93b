"""A run's HTML report: the funnel, the bands and every problem with its chains, as one file or served on loopback."""
