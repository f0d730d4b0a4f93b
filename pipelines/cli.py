"""The ``mmcot`` command: run, rounds, dedup, synth, verify, evaluate, card, view, publish, teacher, config."""
from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from pathlib import Path

from pipelines.config_cli import add_config_parser
from pipelines.evaluate_cli import add_evaluate_parser
from pipelines.logs import setup_logging
from pipelines.reach import reach_failure
from pipelines.teacher_cli import add_teacher_parser

CACHE_ONLY_HELP = ("do not require the model servers to answer before the run (a rerun answered from the response "
                   "cache; a reply it lacks is dead-lettered if its server is down)")
VERBOSE_HELP = "also show Beam's and the HTTP clients' logs, library notes, and the traceback of a failure to reach something"


def _refusals() -> tuple[type[Exception], ...]:
    """Errors that stop a run before anything is submitted: the message says what to change."""
    from pipelines.remote_guard import RemoteRunRefused
    from pipelines.runners import RunnerOptionsError
    from pipelines.staging import StagingError
    from pipelines.storage import MissingExtra

    return FileNotFoundError, RunnerOptionsError, RemoteRunRefused, MissingExtra, StagingError


def _cmd_run(args: argparse.Namespace, beam_args: list[str]) -> int:
    import yaml

    from pipelines.config import ConfigError, load_config
    from pipelines.run import run_pipeline
    from pipelines.summary import summary_table

    overrides = {k: v for k, v in (("run.output_dir", args.output_dir), ("teacher.base_url", args.teacher_url),
                                   ("teacher.cache_url", args.cache_url)) if v is not None}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            print(f"error: --set takes KEY=VALUE, got {item!r}", file=sys.stderr)
            return 2
        overrides[key] = yaml.safe_load(value)
    try:
        config = load_config(args.config, overrides)
        manifest = run_pipeline(config, beam_args, cache_only=args.cache_only)
    except (ConfigError, *_refusals()) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary_table(manifest))
    print(f"output: {config.run.output_dir} (manifest.json, README.md, {len(manifest.shards)} shards)")
    return 0 if manifest.counts.balanced() else 1


def _cmd_rounds(args: argparse.Namespace, beam_args: list[str]) -> int:
    from pipelines.config import ConfigError
    from pipelines.rounds import rounds_table, run_rounds

    try:
        summary = run_rounds(args.config, beam_args, args.teacher_url, cache_only=args.cache_only)
    except (ConfigError, *_refusals()) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(rounds_table(summary))
    print(f"output: {Path(summary.rounds[0].output_dir).parent} (rounds.json, README.md, one folder per round)")
    return 0 if summary.adds_up() else 1


def _dedup_sources(args: argparse.Namespace, config) -> list:
    """The sources ``mmcot dedup`` reads: the config's whole source section, or ``--input`` (with the
    settings of the config's source named ``--name``, or its only one: columns, split, preset, …)."""
    from transforms.sources import SourceSettings

    if args.input is None:
        if config is None:
            raise ValueError("give --input FILE, or --config with a source section")
        return config.all_sources
    kind = "parquet" if args.input.endswith(".parquet") else "jsonl"
    if config is None:
        return [SourceSettings(kind=kind, path=args.input, name=args.name or Path(args.input).stem)]
    chosen = [s for s in config.all_sources if args.name in (None, s.name)]
    if len(chosen) != 1:
        names = ", ".join(s.name for s in config.all_sources)
        raise ValueError(f"--input with a config of several sources needs --name, one of: {names}"
                         if not chosen or args.name is None else f"--name {args.name!r} is not a source of the config ({names})")
    update = {"path": args.input} | ({"kind": kind} if chosen[0].kind in ("jsonl", "parquet") else {})
    return [chosen[0].model_copy(update=update)]


def _cmd_dedup(args: argparse.Namespace, beam_args: list[str]) -> int:
    from pipelines.config import ConfigError, load_config
    from pipelines.dedup_run import GUARDS, run_dedup
    from pipelines.preflight import check_places
    from pipelines.storage import source_paths
    from transforms.dedup import DedupSettings
    from transforms.normalize import NormalizeSettings

    try:
        config = load_config(args.config) if args.config else None
        sources = _dedup_sources(args, config)
        check_places({**source_paths(sources), "--output": args.output})
        normalize = config.normalize if config else NormalizeSettings()
        counts = run_dedup(sources, normalize, config.dedup if config else DedupSettings(), args.output, beam_args)
    except (ConfigError, FileNotFoundError, ValueError, *_refusals()) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"read {counts.read}  kept {counts.kept}  dropped {sum(counts.dropped.values())}  "
          f"dead-lettered {sum(counts.dead_lettered.values())}")
    for reason, n in {**counts.dropped, **counts.dead_lettered}.items():
        print(f"  {reason:<28} {n}")
    if counts.guards is None:
        print("near-duplicate guards: this runner reports no counters")
    else:
        print("near-duplicate guards (pairs blocked / problems saved): " + ", ".join(
            f"{g} {counts.guards[f'blocked_pairs_{g}']} / {counts.guards[f'saved_{g}']}" for g in GUARDS)
            + f"; left undecided and kept: {counts.guards['unresolved_nodes']}")
    print(f"output: {args.output} (problems/, dropped/, dead_letter/)")
    return 0 if counts.balanced() else 1


def _cmd_synth(args: argparse.Namespace, _beam_args: list[str]) -> int:
    from transforms.synth import generate, write_jsonl, write_parquet

    families = args.families.split(",") if args.families else None
    problems = list(generate(args.n, args.seed, families, (args.min_difficulty, args.max_difficulty)))
    jsonl = write_jsonl(problems, args.out)
    parquet = write_parquet(problems, Path(args.out) / "problems.parquet")
    print(f"wrote {len(problems)} problems: {jsonl} (+ images/) and {parquet}")
    return 0


def _cmd_verify(args: argparse.Namespace, _beam_args: list[str]) -> int:
    from pipelines.config import load_config
    from pipelines.verify_files import verify_file
    from transforms.verifiers import VerifyConfig

    config = load_config(args.config).verify if args.config else VerifyConfig(require_reasoning=not args.no_reasoning)
    try:
        path, correct, reasons = verify_file(args.input, args.output, config)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}: {correct} correct")
    for reason, n in reasons.most_common():
        print(f"  {reason:<16} {n}")
    return 0


def _output_reachable(output_dir: str) -> None:
    """Raise MissingExtra or Unreachable unless ``output_dir``'s storage can be read here and answers."""
    from pipelines.preflight import check_places
    from pipelines.storage import require_storage

    require_storage({"output_dir": output_dir})
    check_places({"output_dir": output_dir})


def _cmd_card(args: argparse.Namespace, _beam_args: list[str]) -> int:
    from data_cards.card import load_manifest, write_card
    from pipelines.storage import MissingExtra

    try:
        _output_reachable(args.output_dir)
    except MissingExtra as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        print(f"wrote {write_card(args.output_dir, load_manifest(args.output_dir), args.repo_id)}")
    except FileNotFoundError as exc:
        print(f"error: {args.output_dir} is not a finished mmcot run ({exc})", file=sys.stderr)
        return 2
    return 0


def _cmd_view(args: argparse.Namespace, _beam_args: list[str]) -> int:
    from data_cards.report.render import write_report
    from data_cards.report.serve import ReportServer

    try:
        if not args.serve:
            print(f"wrote {write_report(args.output_dir)} (open it in a browser; it needs no network)")
            return 0
        server = ReportServer(args.output_dir, args.port)
    except FileNotFoundError as exc:
        print(f"error: {args.output_dir} is not a finished mmcot run ({exc})", file=sys.stderr)
        return 2
    print(f"serving the report of {args.output_dir} at {server.url} (Ctrl-C stops)", flush=True)
    server.serve_forever()
    return 0


def _cmd_publish(args: argparse.Namespace, _beam_args: list[str]) -> int:
    from huggingface_hub import HfApi, get_token
    from huggingface_hub.errors import HfHubHTTPError

    from data_cards.card import load_manifest, write_card
    from data_cards.publish import PublishRefused, check_output, plan_publish, publish
    from pipelines.storage import MissingExtra

    out = args.output_dir
    try:
        _output_reachable(out)
    except MissingExtra as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        manifest = load_manifest(out)
    except FileNotFoundError as exc:
        print(f"error: {out} is not a finished mmcot run ({exc})", file=sys.stderr)
        return 2
    token = None if args.dry_run else get_token()
    if not args.dry_run and token is None:
        print("error: no Hugging Face token: set HF_TOKEN or run `hf auth login`", file=sys.stderr)
        return 2
    try:
        check_output(out, manifest, args.verify_hashes)
        if not args.dry_run:
            write_card(args.output_dir, manifest, args.repo_id)
        plan = plan_publish(out, manifest, args.repo_id, args.revision, args.private)
    except PublishRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except FileNotFoundError as exc:
        print(f"error: {out} is not a finished mmcot run ({exc})", file=sys.stderr)
        return 2
    if args.dry_run:
        print("dry run, nothing uploaded; a real upload first re-renders README.md for this repo id.")
        print(f"would upload {plan.describe()}")
        return 0
    try:
        commit = publish(plan, HfApi(token=token))
    except HfHubHTTPError as exc:
        print(f"error: upload failed: {exc}", file=sys.stderr)
        return 1
    print(f"published {plan.describe()}\ncommit: {commit.commit_url}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmcot", description="Adaptive-length CoT distillation for multimodal reasoning data.")
    parser.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a pipeline from a config (extra --flags go to Beam, e.g. --runner dask)")
    run.add_argument("--config", required=True)
    run.add_argument("--output-dir", help="override run.output_dir")
    run.add_argument("--teacher-url", help="override teacher.base_url (an OpenAI-compatible /v1 root)")
    run.add_argument("--cache-url", help="override teacher.cache_url (a directory or fsspec URL)")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override any config key, e.g. --set source.path=data/x.jsonl (YAML value)")
    run.add_argument("--cache-only", action="store_true", help=CACHE_ONLY_HELP)
    run.set_defaults(func=_cmd_run)

    rounds = sub.add_parser("rounds", help="run R1V-style iterative rounds from a rounds file (each round a run taking "
                                           "earlier rounds' failures; extra --flags go to Beam)")
    rounds.add_argument("--config", required=True, help="a rounds file, e.g. configs/r1v_rounds.yaml")
    rounds.add_argument("--teacher-url", help="teacher.base_url for every round (default: each round's, else the "
                                              "embedded teacher, started once)")
    rounds.add_argument("--cache-only", action="store_true", help=CACHE_ONLY_HELP)
    rounds.set_defaults(func=_cmd_rounds)

    dedup = sub.add_parser("dedup", help="decontaminate and dedup problem files (extra --flags go to Beam, e.g. --runner dask)")
    dedup.add_argument("--input", help="problems: a .jsonl (+ images) or .parquet file or glob (default: the config's sources)")
    dedup.add_argument("--output", required=True, help="directory for problems/, dropped/, dead_letter/")
    dedup.add_argument("--config", help="take the sources, normalize and dedup sections of this run config")
    dedup.add_argument("--name", help="with --input: source name, the prefix of every problem id (with --config: "
                                      "the config source whose settings apply); default: the file stem")
    dedup.set_defaults(func=_cmd_dedup)

    synth = sub.add_parser("synth", help="generate synthetic image-question problems (JSONL + images, Parquet)")
    synth.add_argument("--out", required=True, type=Path)
    synth.add_argument("--n", type=int, default=200)
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--families", help="comma-separated subset of the families")
    synth.add_argument("--min-difficulty", type=float, default=0.0)
    synth.add_argument("--max-difficulty", type=float, default=1.0)
    synth.set_defaults(func=_cmd_synth)

    ver = sub.add_parser("verify", help="verify model outputs in a Parquet/JSONL file (columns content|output, answer|gold)")
    ver.add_argument("--input", required=True, type=Path)
    ver.add_argument("--output", required=True, type=Path)
    ver.add_argument("--config", help="take the verify section of this run config")
    ver.add_argument("--no-reasoning", action="store_true", help="do not require a <think> block")
    ver.set_defaults(func=_cmd_verify)

    add_evaluate_parser(sub)

    card = sub.add_parser("card", help="re-render README.md (the dataset card) from an output's manifest.json")
    card.add_argument("output_dir")
    card.add_argument("--repo-id", help="OWNER/NAME used in the load snippet")
    card.set_defaults(func=_cmd_card)

    view = sub.add_parser("view", help="write report.html (funnel, bands, every problem and chain) into an output directory")
    view.add_argument("output_dir")
    view.add_argument("--serve", action="store_true", help="serve it on 127.0.0.1 instead, reading problems page by page")
    view.add_argument("--port", type=int, default=8765, help="port for --serve (0: any free port)")
    view.set_defaults(func=_cmd_view)

    pub = sub.add_parser("publish", help="check an output against its manifest and upload it to a Hub dataset repo in one commit")
    pub.add_argument("output_dir")
    pub.add_argument("--repo-id", required=True, help="OWNER/NAME of the dataset repo (created if missing)")
    pub.add_argument("--private", action="store_true", help="create the repo private")
    pub.add_argument("--revision", default="main", help="branch to commit to (created if missing)")
    pub.add_argument("--dry-run", action="store_true", help="list what would be uploaded and where; upload nothing")
    pub.add_argument("--verify-hashes", action="store_true",
                     help="read every shard again and check its sha256 (default: trust the hashes the workers computed "
                          "after the writes; every shard's presence and size are checked either way)")
    pub.set_defaults(func=_cmd_publish)

    add_teacher_parser(sub)
    add_config_parser(sub)
    _add_verbose(sub)
    return parser


def _add_verbose(commands: argparse._SubParsersAction) -> None:
    """``-v`` after any command too (``mmcot run --config x -v``), however deep, without overriding one given first."""
    for parser in commands.choices.values():
        parser.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP)
        for action in parser._subparsers._group_actions if parser._subparsers else ():
            _add_verbose(action)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mmcot`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args, beam_args = _parser().parse_known_args(argv)
    if beam_args and args.command not in ("run", "dedup", "rounds"):
        _parser().error(f"unrecognized arguments: {' '.join(beam_args)}")
    setup_logging(args.verbose)
    try:
        return args.func(args, beam_args)
    except Exception as exc:
        line = reach_failure(exc)
        if line is None:
            raise
        if args.verbose:
            traceback.print_exc()
        print(f"error: {line}", file=sys.stderr)
        return 2


def console() -> None:
    """The console script: :func:`main`, then exit without interpreter finalization.

    Beam's multi-process DirectRunner (``direct-mp``) can leave gRPC threads behind that abort the
    interpreter while it finalizes ("terminate called without an active exception", SIGABRT), after
    the job, its manifest and card are written; so the process ends with ``os._exit`` once output
    and logs are flushed, and its exit code is the command's.
    """
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    console()
