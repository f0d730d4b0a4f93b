"""``mmcot teacher prepare|serve|stop|status``: the embedded teacher from the command line."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

import httpx

from pipelines.embedded_models import embedded_model
from pipelines.embedded_teacher import EMBEDDED_MODEL_NAME, PrepareError, mmcot_home
from pipelines.vision_teacher import VISION_MODEL_NAME
from pipelines.vllm_server import (
    TeacherServerError,
    background_state,
    embedded_server,
    run_dir,
    serve_in_background,
    stop_background,
)
from transforms.validate import LimitSettings as RowLimits


def _model(args: argparse.Namespace) -> str:
    """The embedded model a command is about: the plumbing vision teacher with ``--vision``, else the text teacher."""
    return VISION_MODEL_NAME if args.vision else EMBEDDED_MODEL_NAME


def _cmd_prepare(args: argparse.Namespace) -> int:
    path = embedded_model(_model(args)).prepare(args.home, args.force)
    print(path)
    return 0


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _serve_foreground(args: argparse.Namespace) -> int:
    home = args.home or mmcot_home()
    server = embedded_server(_model(args), home, args.max_images, port=args.port,
                             log_path=run_dir(home) / "teacher-foreground.log")
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        server.start(timeout=args.timeout)
        print(f"base_url: {server.base_url}\nmodel: {server.served_model_name}\n"
              f"log: {server.log_path}\n(Ctrl-C to stop)", flush=True)
        code = server.wait()
        return code if code else 0
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()


def _cmd_serve(args: argparse.Namespace) -> int:
    if args.foreground:
        return _serve_foreground(args)
    state = serve_in_background(args.home, port=args.port, timeout=args.timeout, model=_model(args),
                                max_images=args.max_images)
    print(f"base_url: {state['base_url']}\nmodel: {state['model']}\npid: {state['pid']}\n"
          f"log: {state['log_path']}")
    return 0


def _cmd_stop(args: argparse.Namespace) -> int:
    if stop_background(args.home):
        print("teacher stopped")
    else:
        print("no teacher running")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    state = background_state(args.home)
    if state is None:
        print("no teacher running")
        return 1
    try:
        ok = httpx.get(f"{state['base_url']}/models", timeout=5).status_code == 200
    except httpx.HTTPError:
        ok = False
    print(f"base_url: {state['base_url']}\nmodel: {state['model']}\npid: {state['pid']}\n"
          f"responding: {'yes' if ok else 'no'}\nlog: {state['log_path']}")
    return 0 if ok else 1


def add_teacher_parser(commands: argparse._SubParsersAction) -> None:
    """``teacher`` and its own commands, added to the ``mmcot`` parser's ``commands``."""
    parser = commands.add_parser("teacher", help="prepare / serve / stop / status of the embedded vLLM teacher",
                                 description="Manage the local embedded teacher model.")
    parser.add_argument("--home", type=Path, default=None,
                        help="cache directory (default: $MMCOT_HOME or ~/.cache/mmcot)")
    sub = parser.add_subparsers(dest="teacher_command", required=True)
    vision_help = (f"the plumbing vision teacher ({VISION_MODEL_NAME}, built from the embedded teacher; its vision "
                   "tower is untrained: it tests the image path, never quality)")
    prep = sub.add_parser("prepare", help="download and convert the embedded teacher")
    prep.add_argument("--force", action="store_true", help="rebuild even if already prepared")
    prep.add_argument("--vision", action="store_true", help=vision_help)
    prep.set_defaults(teacher_func=_cmd_prepare)
    serve = sub.add_parser("serve", help="serve the embedded teacher with vLLM")
    serve.add_argument("--vision", action="store_true", help=vision_help)
    serve.add_argument("--max-images", type=int, default=RowLimits().max_images,
                       help="with --vision: images per prompt (default: normalize's limit, %(default)s)")
    serve.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    serve.add_argument("--foreground", action="store_true", help="run until interrupted")
    serve.add_argument("--timeout", type=float, default=300, help="start-up timeout, seconds")
    serve.set_defaults(teacher_func=_cmd_serve)
    sub.add_parser("stop", help="stop the background teacher").set_defaults(teacher_func=_cmd_stop)
    sub.add_parser("status", help="show the background teacher").set_defaults(teacher_func=_cmd_status)
    parser.set_defaults(func=run_teacher_command)


def run_teacher_command(args: argparse.Namespace, _beam_args: list[str]) -> int:
    """Run the parsed ``mmcot teacher`` command; returns a process exit code."""
    try:
        return int(args.teacher_func(args))
    except (TeacherServerError, PrepareError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
