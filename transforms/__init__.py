"""Pipeline stages: one module per stage, each a Beam PTransform plus the pure functions it wraps."""
