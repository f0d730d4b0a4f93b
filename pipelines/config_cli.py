"""``mmcot config schema|check|reference``: the JSON Schema editors read, a config checked and printed resolved, the reference page."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml


def _cmd_schema(args: argparse.Namespace) -> int:
    from pipelines.config import PipelineConfig
    from pipelines.config_reference import schema_text
    from pipelines.rounds import RoundsSettings

    sys.stdout.write(schema_text(RoundsSettings if args.rounds else PipelineConfig))
    return 0


def is_rounds_file(data: object) -> bool:
    """Whether a loaded YAML mapping is a rounds file (``base``/``rounds`` keys, no ``run`` section) rather than a run config."""
    return isinstance(data, dict) and "run" not in data and bool({"base", "rounds"} & set(data))


def check_text(path: Path) -> str:
    """``path`` validated (a run config or a rounds file) and printed as YAML with every default filled in;
    a rounds file is followed by each round's run config. Raises ConfigError (or OSError) naming what is wrong."""
    from pipelines.config import ConfigError, load_config
    from pipelines.config_reference import resolved_yaml
    from pipelines.rounds import load_rounds

    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not is_rounds_file(data):
        return f"# {path}: a valid run config, every key with its value (defaults filled in)\n" + resolved_yaml(load_config(path))
    settings, configs = load_rounds(path)
    docs = [f"# {path}: a valid rounds file, every key with its value (defaults filled in)\n" + resolved_yaml(settings)]
    docs += [f"# round {i} ({r.name}): the run config it runs\n" + resolved_yaml(config)
             for i, (r, config) in enumerate(zip(settings.rounds, configs), start=1)]
    return "---\n".join(docs)


def _cmd_check(args: argparse.Namespace) -> int:
    from pipelines.config import ConfigError

    try:
        text = check_text(args.file)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {args.file}: cannot read it ({exc.strerror or exc})", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


def _cmd_reference(_args: argparse.Namespace) -> int:
    from pipelines.config_reference import reference_markdown

    sys.stdout.write(reference_markdown())
    return 0


def run_config_command(args: argparse.Namespace, _beam_args: list[str]) -> int:
    """Run the ``mmcot config`` subcommand ``args`` names."""
    return args.config_func(args)


def add_config_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``mmcot config`` and its subcommands."""
    config = sub.add_parser("config", help="the config's JSON Schema, a config checked and printed with its defaults, "
                                           "the config reference (docs/config.md)")
    commands = config.add_subparsers(dest="config_command", required=True)
    schema = commands.add_parser("schema", help="print the JSON Schema of a run config (configs/mmcot.schema.json), "
                                                "for editors")
    schema.add_argument("--rounds", action="store_true", help="the rounds file's schema instead "
                                                              "(configs/mmcot-rounds.schema.json)")
    schema.set_defaults(config_func=_cmd_schema)
    check = commands.add_parser("check", help="validate a run config or rounds file and print it with every default "
                                              "filled in (exit 2 and one line per bad key when it is invalid)")
    check.add_argument("file", type=Path)
    check.set_defaults(config_func=_cmd_check)
    reference = commands.add_parser("reference", help="print the config reference in Markdown (docs/config.md)")
    reference.set_defaults(config_func=_cmd_reference)
    config.set_defaults(func=run_config_command)
