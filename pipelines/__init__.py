"""CLI, config loading and validation, pipeline assembly and runner presets."""
