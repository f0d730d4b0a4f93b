"""The run's figures, computed inside the pipeline by workers and written under ``_meta/`` (DESIGN "Run figures")."""
from transforms.figures.chains import ComputeChainFigures
from transforms.figures.funnel import ComputeFunnel
from transforms.figures.sample import SampleRows
from transforms.figures.shards import ComputeShardFigures

__all__ = ["ComputeChainFigures", "ComputeFunnel", "ComputeShardFigures", "SampleRows"]
