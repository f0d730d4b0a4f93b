"""Sources: readers for every input layout (JSONL + images, Parquet, saved and Hub datasets) and dataset presets."""
from transforms.sources.read import ReadProblems, ReadSources, SourceSettings, require_images_by_source

__all__ = ["ReadProblems", "ReadSources", "SourceSettings", "require_images_by_source"]
