"""Typed records and pyarrow schemas for every stage boundary and output of mmcot."""
