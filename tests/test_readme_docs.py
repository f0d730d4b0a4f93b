"""The README is the map and docs/ the rest: at most 300 lines, the two set-up commands first, every link it
has resolves (files, and anchors in the docs pages), and every docs page is in the site's navigation.
(`make docs` builds the site strictly: links between docs pages are checked there.) Every figure row in
docs/benchmarks.md has a date, a commit this checkout knows and a command naming something that exists."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _anchors(page: Path) -> set[str]:
    """The heading anchors of a Markdown page (MkDocs' toc slugs: punctuation dropped, spaces to '-')."""
    text, in_code, out = page.read_text(), False, set()
    for line in text.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and (m := re.match(r"^#{1,6} (.*)", line)):
            out.add(re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-"))
    return out


def _nav_pages(nav) -> list[str]:
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, list):
        return [p for item in nav for p in _nav_pages(item)]
    return [p for value in nav.values() for p in _nav_pages(value)]


def test_the_readme_is_short_and_starts_with_the_two_commands():
    lines = README.splitlines()
    assert len(lines) <= 300, len(lines)
    block = README.split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    assert [line.split()[:2] for line in block] == [["make", "demo"], ["make", "test"]]
    assert README.index("```bash") < README.index("\n## ")  # before any section


def test_every_link_in_the_readme_resolves():
    links = [link for link in LINK.findall(README) if not link.startswith(("http://", "https://"))]
    assert links
    for link in links:
        path, _, anchor = link.partition("#")
        target = ROOT / path if path else ROOT / "README.md"
        assert target.exists(), link
        if anchor:
            assert anchor in _anchors(target), link


def test_every_docs_page_is_in_the_navigation_and_every_nav_entry_exists():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    nav = set(_nav_pages(config["nav"]))
    pages = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")}
    assert nav == pages


BENCHMARKS = ROOT / "docs" / "benchmarks.md"
FIGURE_HEADER = ["figure", "value", "date", "commit"]


def _figure_rows(text: str) -> list[dict[str, str]]:
    """Every row of the tables in benchmarks.md whose header starts figure | value | date | commit."""
    rows, header = [], None
    for line in text.splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
        elif header[:4] == FIGURE_HEADER and not set(line) <= set("|- "):
            rows.append(dict(zip(header, cells)))
    return rows


def _make_targets() -> set[str]:
    return set(re.findall(r"^([\w.-]+):", (ROOT / "Makefile").read_text(), re.M))


def _cli_commands() -> set[str]:
    return {name for f in (ROOT / "pipelines").glob("*.py") for name in re.findall(r'add_parser\("([\w-]+)"', f.read_text())}


def _is_repo_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _names_something(command: str) -> bool:
    """A script or file of the repo, a module of the repo (`-m x.y`, `import x.y`), a make target or an mmcot
    command, inside the command's code spans."""
    spans = re.findall(r"`([^`]+)`", command)
    tokens = [tok.strip("'\",;()") for span in spans for tok in span.split()]
    targets, cli = _make_targets(), _cli_commands()
    for i, tok in enumerate(tokens):
        if "/" in tok and not tok.startswith(("/", "<", "http")) and "<" not in tok and (ROOT / tok).exists():
            return True
        if "." in tok and re.fullmatch(r"[A-Za-z_]\w*(\.\w+)+", tok) and _is_repo_module(tok):
            return True
        if tok == "make" and any(t in targets for t in tokens[i + 1:]):
            return True
        if tok == "mmcot" and i + 1 < len(tokens) and tokens[i + 1] in cli:
            return True
    return False


def _in_git_checkout() -> bool:
    try:
        done = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--git-dir"], capture_output=True, check=False)
    except OSError:
        return False
    return done.returncode == 0


def _row_problems(row: dict[str, str], check_commits: bool) -> list[str]:
    """What a figure row lacks: a date, a commit (known to git when in a checkout), a command or why there is none."""
    problems = []
    if not re.fullmatch(r"20\d\d-[01]\d-[0-3]\d", row.get("date", "")):
        problems.append("date")
    commit = row.get("commit", "")
    if not re.fullmatch(r"[0-9a-f]{7,40}", commit):
        problems.append("commit")
    elif check_commits:
        found = subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", commit + "^{commit}"], capture_output=True, check=False)
        if found.returncode != 0:
            problems.append("unknown commit")
    if "command" in row:
        if not _names_something(row["command"]):
            problems.append("command")
    elif not row.get("why no command"):
        problems.append("why no command")
    return problems


def test_every_benchmark_figure_has_a_date_a_commit_and_a_command():
    rows = _figure_rows(BENCHMARKS.read_text())
    assert len(rows) >= 30
    check_commits = _in_git_checkout()
    assert {row["figure"]: _row_problems(row, check_commits) for row in rows if _row_problems(row, check_commits)} == {}


@pytest.mark.parametrize(
    ("command", "names"),
    [
        ("`PYTHONPATH=. python3 benchmarks/dedup_scaling.py`", True),
        ("`PYTHONPATH=. python3 benchmarks/no_such_benchmark.py`", False),
        ("`PYTHONPATH=$PWD python3 -m benchmarks.rate_limits`", True),
        ("`python3 -m benchmarks.no_such_module`", False),
        ("`flock /tmp/mmcot-heavy.lock make -o install loop`", True),
        ("`make no-such-target`", False),
        ("`mmcot dedup --input x`", True),
        ("`mmcot frobnicate`", False),
        ("benchmarks/dedup_scaling.py outside a code span", False),
    ],
)
def test_the_command_check_tells_an_existing_script_from_a_missing_one(command, names):
    assert _names_something(command) is names


def test_a_figure_row_lacking_a_date_a_known_commit_or_a_command_is_named():
    table = "\n".join([
        "| figure | value | date | commit | command |",
        "| --- | --- | --- | --- | --- |",
        "| no date | 1 s |  | 5b8fafc | `make demo` |",
        "| bad commit | 1 s | 2026-12-01 | zz | `make demo` |",
        "| unknown commit | 1 s | 2026-12-01 | 0000000 | `make demo` |",
        "| no script | 1 s | 2026-12-01 | 5b8fafc | `python3 benchmarks/gone.py` |",
        "",
        "| figure | value | date | commit | why no command |",
        "| --- | --- | --- | --- | --- |",
        "| no reason | 1 s | 2026-12-01 | 5b8fafc |  |",
    ])
    rows = _figure_rows(table)
    found = {row["figure"]: _row_problems(row, check_commits=_in_git_checkout()) for row in rows}
    assert found["no date"] == ["date"]
    assert found["bad commit"] == ["commit"]
    assert found["no script"] == ["command"]
    assert found["no reason"] == ["why no command"]
    assert found["unknown commit"] == (["unknown commit"] if _in_git_checkout() else [])


#: Folders of tests/ that mirror no package: the shared helpers, and the output as each trainer consumes it.
TEST_FOLDERS_OF_THEIR_OWN = {"support", "consumers"}
#: A folder put on a subprocess's PYTHONPATH (a sitecustomize probe), not a package.
PYTHONPATH_DIRS = {"support/vision_probe"}


def test_the_tests_tree_mirrors_the_packages_and_keeps_helpers_in_support():
    tests = ROOT / "tests"
    folders = {p.parent.relative_to(tests).as_posix() for p in tests.rglob("*.py") if "__pycache__" not in p.parts}
    folders.discard(".")
    for folder in folders - PYTHONPATH_DIRS:
        assert (tests / folder / "__init__.py").is_file(), f"tests/{folder} is not a package"
        top = folder.split("/")[0]
        if top not in TEST_FOLDERS_OF_THEIR_OWN:
            assert (ROOT / folder).is_dir(), f"tests/{folder} mirrors no package"
    loose = sorted(p.name for p in tests.glob("*.py") if p.name not in {"__init__.py", "conftest.py"} and not p.name.startswith("test_"))
    assert loose == [], f"helpers belong in tests/support/: {loose}"
