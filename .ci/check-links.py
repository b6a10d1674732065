#!/usr/bin/env python3
"""Checks the links of the repository's Markdown files and the documentation
pointers in the generator's diagnostics.

Every relative link in a tracked `*.md` file must name an existing file, and
its `#anchor` (also a bare `#anchor` within the file) a heading of the target,
slugged as GitHub does. Links to http(s), mailto and other schemes are not
followed; links inside code fences and inline code are ignored. In
`codegen/src/**/*.rs`, every `docs/<file>.md` or `docs/<file>.md#anchor` a
hint names must resolve the same way. Prints `file:line: broken link ...` for
each failure and exits 1 when there is any.
"""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

INLINE_LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
INLINE_CODE = re.compile(r"(`+)(?:.+?)\1")
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")
HINT_POINTER = re.compile(r"\bdocs/[A-Za-z0-9_./-]+\.md(?:#[A-Za-z0-9_-]+)?")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def tracked(pattern: str) -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "-z", "--", pattern],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [ROOT / p for p in out.split("\0") if p]


def lines_outside_fences(text: str):
    """Yields (line number, line) for the lines not inside a code fence."""
    fence = None
    for number, line in enumerate(text.splitlines(), start=1):
        m = FENCE.match(line)
        if fence is None:
            if m:
                fence = m.group(1)
                continue
            yield number, line
        elif m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) \
                and line.strip() == m.group(1):
            fence = None


def slug(heading: str) -> str:
    """GitHub's anchor of a heading text (before duplicates are numbered)."""
    text = re.sub(r"<[^>]+>", "", heading)
    # Links and emphasis keep only their text.
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = text.replace("`", "")
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


_anchor_cache: dict[Path, set[str]] = {}


def anchors(path: Path) -> set[str]:
    if path not in _anchor_cache:
        found: set[str] = set()
        counts: dict[str, int] = {}
        text = path.read_text(encoding="utf-8")
        for _, line in lines_outside_fences(text):
            for a in HTML_ANCHOR.findall(line):
                found.add(a)
            m = HEADING.match(line)
            if not m:
                continue
            base = slug(m.group(2))
            n = counts.get(base, 0)
            counts[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
        _anchor_cache[path] = found
    return _anchor_cache[path]


def check_target(source: Path, target: str) -> str | None:
    """Why `target`, linked from `source`, is broken; None when it resolves."""
    if SCHEME.match(target) or target.startswith("//"):
        return None
    path_part, _, anchor = target.partition("#")
    path_part = path_part.split("?", 1)[0]
    if path_part:
        if path_part.startswith("/"):
            resolved = ROOT / path_part.lstrip("/")
        else:
            resolved = (source.parent / path_part).resolve()
        if not resolved.exists():
            return "no such file"
    else:
        resolved = source
    if anchor:
        if resolved.is_dir() or resolved.suffix.lower() != ".md":
            return None
        if anchor.lower() not in {a.lower() for a in anchors(resolved)}:
            return f"no heading for #{anchor} in {resolved.relative_to(ROOT)}"
    return None


def check_markdown(path: Path, problems: list[str]) -> None:
    text = path.read_text(encoding="utf-8")
    for number, line in lines_outside_fences(text):
        bare = INLINE_CODE.sub("", line)
        targets = INLINE_LINK.findall(bare)
        m = REFERENCE_DEF.match(bare)
        if m:
            targets.append(m.group(1))
        for target in targets:
            why = check_target(path, target)
            if why:
                problems.append(
                    f"{path.relative_to(ROOT)}:{number}: broken link {target} ({why})"
                )


def check_hints(path: Path, problems: list[str]) -> None:
    text = path.read_text(encoding="utf-8")
    for number, line in enumerate(text.splitlines(), start=1):
        for pointer in HINT_POINTER.findall(line):
            why = check_target(ROOT / "README.md", pointer)
            if why:
                problems.append(
                    f"{path.relative_to(ROOT)}:{number}: broken link {pointer} ({why})"
                )


def main() -> int:
    problems: list[str] = []
    markdown = tracked("*.md")
    for path in markdown:
        check_markdown(path, problems)
    hints = [p for p in tracked("codegen/src/*.rs")]
    for path in hints:
        check_hints(path, problems)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} broken link(s)", file=sys.stderr)
        return 1
    print(f"links: {len(markdown)} Markdown files and {len(hints)} generator sources checked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
