#!/usr/bin/env python3
"""Fail when a crate declares a dependency that none of its Rust files names.

A dependency is used when its crate name (dashes as underscores) appears as a
word in a `.rs` file under the crate's directory (sources, tests, benches,
build script). Cheap and conservative: a name that only appears in a comment
counts as used, so this catches forgotten dependencies, not every one.
"""
import pathlib
import re
import sys
import tomllib

root = pathlib.Path(__file__).resolve().parent.parent
unused = []
for manifest in sorted(root.glob("**/Cargo.toml")):
    if "target" in manifest.parts or manifest.parent == root:
        continue
    crate = manifest.parent
    text = "\n".join(
        path.read_text(errors="replace")
        for path in crate.rglob("*.rs")
        if "target" not in path.parts
    )
    spec = tomllib.loads(manifest.read_text())
    for section in ("dependencies", "dev-dependencies", "build-dependencies"):
        for name in spec.get(section, {}):
            ident = name.replace("-", "_")
            if not re.search(rf"\b{re.escape(ident)}\b", text):
                unused.append(f"{manifest.relative_to(root)}: [{section}] {name}")
if unused:
    print("dependencies no Rust file uses:\n  " + "\n  ".join(unused))
    sys.exit(1)
print("every declared dependency is used")
