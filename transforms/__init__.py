"""Pipeline stages, one module per stage (declared in `schemas/stages.py`), and the helper modules they share."""
