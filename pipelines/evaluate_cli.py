"""``mmcot evaluate``: the command line of :mod:`pipelines.evaluate`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPORT_FILE = "evaluation.json"


def eval_setup(args: argparse.Namespace):
    """The problems and how they are asked and verified: ``--problems`` read as a ``--name`` source, with the
    normalize, assess, bands and verify sections of ``--config`` when given (an :class:`~pipelines.evaluate.EvalSetup`)."""
    from pipelines.config import load_config
    from pipelines.evaluate import EvalSetup
    from transforms.evaluate import EvaluateSettings
    from transforms.sources import SourceSettings

    kind = "parquet" if args.problems.endswith(".parquet") else "jsonl"
    source = SourceSettings(kind=kind, path=args.problems, name=args.name or Path(args.problems).stem, limit=args.limit)
    sampling = {"max_tokens": args.max_tokens, "temperature": args.temperature, "top_p": args.top_p}
    ask = EvaluateSettings(modality=args.modality, **{k: v for k, v in sampling.items() if v is not None})
    if args.config is None:
        return EvalSetup(source=source, ask=ask)
    config = load_config(args.config)
    return EvalSetup(source=source, normalize=config.normalize, assess=config.assess, bands=config.length.bands,
                     verify=config.verify, ask=ask)


def _cmd_evaluate(args: argparse.Namespace, _beam_args: list[str]) -> int:
    from pipelines.config import ConfigError
    from pipelines.evaluate import evaluation_table, model_endpoint, run_evaluation
    from pipelines.vllm_server import TeacherServerError

    try:
        setup = eval_setup(args)
        with model_endpoint(args.cache_url, args.model_dir, args.base_url, args.model, args.api_key_env,
                            args.max_in_flight, args.seed) as endpoint:
            report = run_evaluation(setup, endpoint, args.output_dir)
    except (ConfigError, ValueError, FileNotFoundError, TeacherServerError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(evaluation_table(report))
    print(f"output: {args.output_dir} ({REPORT_FILE}, items/, dead_letter/)")
    return 0 if report.balanced() else 1


def add_evaluate_parser(commands: argparse._SubParsersAction) -> None:
    """``evaluate`` and its options, added to the ``mmcot`` parser's ``commands``."""
    parser = commands.add_parser(
        "evaluate", help="ask a model every problem of a set with the SFT rows' prompt, verify each answer, report "
                         "accuracy with a Wilson interval per band and answer type",
        description="Evaluate a local model directory (served by vLLM for the job) or an OpenAI-compatible endpoint.")
    parser.add_argument("--problems", required=True, help="problems: a .jsonl (+ images) or .parquet file or glob")
    model = parser.add_mutually_exclusive_group(required=True)
    model.add_argument("--model-dir", type=Path, help="a local model directory (safetensors, config, tokenizer)")
    model.add_argument("--base-url", help="an OpenAI-compatible /v1 root (with --model)")
    parser.add_argument("--model", help="the model name the endpoint serves (default for --model-dir: the folder's "
                                        "name and a hash of its weights)")
    parser.add_argument("--output-dir", required=True, help=f"directory for {REPORT_FILE}, items/, dead_letter/")
    parser.add_argument("--config", help="take the normalize, assess, length.bands and verify sections of this run config")
    parser.add_argument("--name", help="source name, the prefix of every problem id (default: the file stem)")
    parser.add_argument("--limit", type=int, help="evaluate at most this many problems (in file order)")
    parser.add_argument("--max-tokens", type=int, help="the answer's budget (default 512)")
    parser.add_argument("--temperature", type=float, help="0: greedy (the default)")
    parser.add_argument("--top-p", type=float, help="default 1")
    parser.add_argument("--modality", choices=("text", "vision"), default="text",
                        help="text: the caption in the images' place; vision: the images at their tags")
    parser.add_argument("--max-in-flight", type=int, default=64, help="requests at once")
    parser.add_argument("--seed", type=int, default=0, help="the vLLM server's seed (--model-dir)")
    parser.add_argument("--cache-url", help="response cache (default: $MMCOT_HOME/responses)")
    parser.add_argument("--api-key-env", help="environment variable holding the endpoint's API key")
    parser.set_defaults(func=_cmd_evaluate)
