"""The stage table (``schemas/stages.py``) and the import rule it declares: no stage module imports another
stage's module, and no helper module in ``transforms/`` imports a stage module (a stage reaches another stage only
through ``schemas/`` or a helper named for its job)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from pipelines.summary import metrics_lines
from schemas.manifest import RunMetrics, StageMetrics
from schemas.stages import EVALUATE, FUNNEL_STEPS, STAGES, flow_rank
from tests.support.paths import REPO

ROOT = REPO
ALL = (*STAGES, EVALUATE)
OWNER = {module: stage.name for stage in ALL for module in stage.modules}


def module_name(path: Path) -> str:
    """``transforms/dedup/__init__.py`` → ``transforms.dedup``."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(tree: ast.AST, name: str, is_package: bool) -> set[str]:
    """Every module ``tree`` imports (``from a import b`` counts as ``a`` and as ``a.b``), relative imports resolved."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.split(".") if is_package else name.split(".")[:-1]
                base = ".".join([*package[:len(package) - node.level + 1], *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def violations(modules: dict[str, tuple[ast.AST, bool]], owner: dict[str, str]) -> list[str]:
    """``importer (stage) imports imported (stage)`` for every import of a stage module from another stage's
    module or from a module of no stage."""
    found = []
    for name, (tree, is_package) in sorted(modules.items()):
        mine = owner.get(name)
        for target in sorted(imported(tree, name, is_package)):
            theirs = owner.get(target)
            if theirs is not None and theirs != mine:
                found.append(f"{name} ({mine or 'helper'}) imports {target} ({theirs})")
    return found


def transforms_modules() -> dict[str, tuple[ast.AST, bool]]:
    return {module_name(path): (ast.parse(path.read_text(), str(path)), path.name == "__init__.py")
            for path in (ROOT / "transforms").rglob("*.py")}


def test_every_declared_stage_module_exists():
    names = transforms_modules()
    assert [m for m in OWNER if m not in names] == []


def test_no_stage_module_imports_another_stage_module():
    assert violations(transforms_modules(), OWNER) == []


def test_the_import_check_names_the_pair_it_catches():
    """The check itself: a planted import of another stage's module (absolute, from-import, relative, inside a
    function) is caught and names both modules; an import of the stage's own module or a helper is not."""
    planted = {
        "transforms.repair": (ast.parse("from transforms.generate import to_generation\nimport transforms.tags"), False),
        "transforms.escalate": (ast.parse("def f():\n    import transforms.length\n"), False),
        "transforms.dedup": (ast.parse("from .chains import MarkDuplicateChains\nfrom .exact import ExactDedup"), True),
        "transforms.scores": (ast.parse("from transforms import judge\nfrom transforms.assess import Assess"), False),
        "transforms.rows": (ast.parse("from transforms.select import SelectChains"), False),
    }
    assert violations(planted, OWNER) == [
        "transforms.dedup (dedup) imports transforms.dedup.chains (chain_dedup)",
        "transforms.escalate (escalate) imports transforms.length (plan)",
        "transforms.repair (repair) imports transforms.generate (generate)",
        "transforms.rows (helper) imports transforms.select (select)",
        "transforms.scores (assess) imports transforms.judge (judge)",
    ]


def test_names_modules_and_funnel_steps_are_declared_once():
    names = [s.name for s in ALL]
    modules = [m for s in ALL for m in s.modules]
    assert len(names) == len(set(names)) and len(modules) == len(set(modules))
    assert all(s.funnel in FUNNEL_STEPS for s in ALL)


def test_every_config_section_is_a_key_of_the_run_config():
    from pipelines.config import PipelineConfig
    assert {s.section for s in ALL if s.section} - set(PipelineConfig.model_fields) == set()


@pytest.mark.parametrize("shuffle", [list, lambda names: sorted(names, reverse=True)])
def test_the_summary_lists_every_stage_in_flow_order(shuffle):
    """The summary's order is the table's, answer_judge and escalate included; a namespace of no stage comes last."""
    names = shuffle(["zz_custom", *(s.name for s in STAGES)])
    metrics = RunMetrics(available=True, stages={n: StageMetrics(counters={"seen": 1}) for n in names})
    listed = [line.split()[0] for line in metrics_lines(metrics).splitlines()[1:]]
    assert listed == [*(s.name for s in STAGES), "zz_custom"]
    assert sorted(names, key=flow_rank) == listed


STAGE_ARGUMENT = {"counter": 0, "distribution": 0, "guarded": 0}  # call name → position of its stage argument


def typed_stage_names(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, word) of every stage typed as a string literal: the namespace of ``Metrics.counter``/``distribution``,
    the stage of ``guarded`` and of a ``RejectRow(stage=...)``, the namespace a ``TeacherCallFn`` subclass passes up."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        args = list(node.args)
        if name == "__init__" and isinstance(func, ast.Attribute) and isinstance(func.value, ast.Call):
            candidates = args[:1]  # super().__init__("stage", endpoint)
        elif name in STAGE_ARGUMENT:
            candidates = args[STAGE_ARGUMENT[name]:STAGE_ARGUMENT[name] + 1]
        else:
            candidates = []
        candidates += [k.value for k in node.keywords if k.arg == "stage"]
        found += [(c.lineno, c.value) for c in candidates if isinstance(c, ast.Constant) and isinstance(c.value, str)]
    return found


def test_no_stage_name_is_typed_out():
    """Counters, dead letters, drops and teacher-call namespaces name their stage through the table's constant."""
    typed = {f"{name}:{line} {word!r}" for name, (tree, _) in transforms_modules().items()
             for line, word in typed_stage_names(tree)}
    assert typed == set()


def test_the_typed_name_check_catches_each_form():
    source = ('Metrics.counter("verify", "correct")\nMetrics.distribution("dedup", "x")\nguarded("plan", fn)\n'
              'RejectRow(row_id=i, stage="select", reason=r)\nsuper().__init__("score", endpoint)\n'
              'Metrics.counter(VERIFY.name, "correct")\nguarded(PLAN.name, fn)\nRejectRow(stage=SELECT.name)\n')
    assert [word for _, word in typed_stage_names(ast.parse(source))] == ["verify", "dedup", "plan", "select", "score"]
