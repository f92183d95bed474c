#!/usr/bin/env python3
"""Check that Cohort's internal crates only depend on the crates they may.

Reads `cargo metadata --format-version 1 --no-deps --locked` (or a saved metadata
JSON file given with `--metadata FILE` or `COHORT_METADATA_JSON=FILE`) and fails with a
readable message when an arrow points the wrong way. Python 3 standard library only.

    scripts/check-deps.sh                  # check the real workspace
    scripts/check-deps.sh --metadata F     # check a saved/fake metadata file
    scripts/check-deps.sh --self-test      # prove the checker rejects bad graphs

ARCHITECTURE.md mirrors the ALLOWED table below; change both together.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

# ---------------------------------------------------------------------------------------
# The rules. Keys and values are short names: package `cohort-<name>` lives in
# crates/<name>, except `desktop` (package `cohort-desktop`, in src-tauri/).
#
# ALLOWED[crate] = the internal crates `crate` may depend on as a normal (or build)
# dependency. Anything not listed is forbidden. A crate missing from the table is an
# error too: a new crate must be placed in the layering before it can land.
ALLOWED: dict[str, set[str]] = {
    "model": set(),  # pure schema: depends on no internal crate
    "store": {"model"},
    "sync": {"model"},  # sans-IO engine: no store, no net
    "net": set(),  # moves frames; knows nothing of model/store/sync
    "core": {"model", "store", "sync", "net"},  # composition root
    "api": {"core", "model"},  # model only for its types
    "cli": {"api"},  # adapters go through api, never core/store
    "desktop": {"api"},  # src-tauri (Tauri 2 shell)
    "testkit": {"core", "model", "store"},
}

# Crates that may only ever appear as a dev-dependency of another crate.
DEV_ONLY: set[str] = {"testkit"}

# Dev-dependencies (tests, benches, examples) may use what the crate may use normally,
# plus the dev-only crates. Everything else is still forbidden: a test reaching around
# the layering (say, cli tests poking cohort-core) is the same smell as the code doing it.
# ---------------------------------------------------------------------------------------

PREFIX = "cohort-"


def short(package_name: str) -> str:
    return package_name[len(PREFIX):] if package_name.startswith(PREFIX) else package_name


def load_metadata(path: str | None) -> dict:
    if path:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps", "--locked"],
        check=True,
        stdout=subprocess.PIPE,
    ).stdout
    return json.loads(out)


def check(meta: dict) -> list[str]:
    """Return one human-readable line per violation (empty list = graph is fine)."""
    members = set(meta.get("workspace_members", []))
    packages = [p for p in meta["packages"] if not members or p["id"] in members]
    internal = {p["name"] for p in packages}
    errors: list[str] = []

    for pkg in sorted(packages, key=lambda p: p["name"]):
        name = short(pkg["name"])
        if name not in ALLOWED:
            errors.append(
                f"{pkg['name']}: not in the dependency table; add it to ALLOWED in "
                f"scripts/check-deps.py (and the table in ARCHITECTURE.md)"
            )
            continue
        seen: set[tuple[str, str]] = set()
        for dep in pkg.get("dependencies", []):
            if dep["name"] not in internal:
                continue  # external crate: not our business here
            target = short(dep["name"])
            kind = dep.get("kind") or "normal"  # null | "dev" | "build"
            if (target, kind) in seen:
                continue  # same dep listed for several targets/platforms
            seen.add((target, kind))
            allowed = set(ALLOWED[name])
            if kind == "dev":
                allowed |= DEV_ONLY
            elif target in DEV_ONLY:
                errors.append(
                    f"{pkg['name']} -> {dep['name']} ({kind} dependency): "
                    f"{dep['name']} may only be a [dev-dependencies] entry"
                )
                continue
            if target not in allowed:
                may = ", ".join(sorted(PREFIX + a for a in allowed)) or "no internal crate"
                errors.append(
                    f"{pkg['name']} -> {dep['name']} ({kind} dependency) is not allowed; "
                    f"{pkg['name']} may depend on: {may}"
                )
    return errors


def run(path: str | None) -> int:
    meta = load_metadata(path)
    errors = check(meta)
    if errors:
        print("check-deps: dependency direction violated:", file=sys.stderr)
        for e in errors:
            print(f"  - {e}", file=sys.stderr)
        print(
            "The allowed arrows are the ALLOWED table in scripts/check-deps.py "
            "(mirrored in ARCHITECTURE.md).",
            file=sys.stderr,
        )
        return 1
    n = len([p for p in meta["packages"]])
    print(f"check-deps: OK ({n} workspace crates, all arrows point the allowed way)")
    return 0


# ------------------------------------------------------------------------- self-test ---


def fake_metadata(edges: dict[str, list[tuple[str, str | None]]]) -> dict:
    """Build a minimal `cargo metadata` document: {crate: [(dep, kind), ...]}."""
    pkgs = []
    for crate, deps in edges.items():
        pkgs.append(
            {
                "name": PREFIX + crate,
                "id": f"path+file:///fake/{crate}#{PREFIX}{crate}@0.1.0",
                "dependencies": [
                    {"name": PREFIX + d, "kind": k, "target": None} for d, k in deps
                ]
                + [{"name": "serde", "kind": None, "target": None}],
            }
        )
    return {"packages": pkgs, "workspace_members": [p["id"] for p in pkgs], "version": 1}


GOOD = {
    "model": [],
    "store": [("model", None)],
    "sync": [("model", None)],
    "net": [],
    "core": [("model", None), ("store", None), ("sync", None), ("net", None), ("testkit", "dev")],
    "api": [("core", None), ("model", None), ("testkit", "dev")],
    "cli": [("api", None), ("testkit", "dev")],
    "desktop": [("api", None)],
    "testkit": [("core", None), ("model", None), ("store", None)],
}


def with_edge(crate: str, dep: str, kind: str | None) -> dict:
    g = {k: list(v) for k, v in GOOD.items()}
    g.setdefault(crate, []).append((dep, kind))
    return g


BAD = {
    "model depends on store": with_edge("model", "store", None),
    "cli depends on core directly": with_edge("cli", "core", None),
    "desktop depends on store directly": with_edge("desktop", "store", None),
    "net depends on model": with_edge("net", "model", None),
    "sync depends on store": with_edge("sync", "store", None),
    "store depends on core": with_edge("store", "core", None),
    "testkit as a normal dependency": with_edge("api", "testkit", None),
    "testkit as a build dependency": with_edge("core", "testkit", "build"),
    "dev-dependency around the layering": with_edge("cli", "store", "dev"),
    "crate missing from the table": with_edge("plugins", "api", None),
}


def self_test() -> int:
    failures = []
    me = os.path.abspath(__file__)
    with tempfile.TemporaryDirectory() as tmp:
        cases = [("allowed graph", GOOD, 0)] + [(d, g, 1) for d, g in BAD.items()]
        for desc, graph, want in cases:
            path = os.path.join(tmp, "metadata.json")
            with open(path, "w", encoding="utf-8") as f:
                json.dump(fake_metadata(graph), f)
            # Run the real entry point in a child process so the exit code is what CI sees.
            r = subprocess.run(
                [sys.executable, me, "--metadata", path],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            ok = r.returncode == want and (want == 0 or "not allowed" in r.stderr
                                           or "only be a [dev-dependencies]" in r.stderr
                                           or "not in the dependency table" in r.stderr)
            mark = "ok  " if ok else "FAIL"
            first = (r.stderr.strip().splitlines() or [""])[1:2]
            print(f"  {mark} {desc}: exit {r.returncode} (want {want}) {''.join(first).strip()}")
            if not ok:
                failures.append(desc)
    if failures:
        print(f"check-deps self-test FAILED: {', '.join(failures)}", file=sys.stderr)
        return 1
    print(f"check-deps self-test: OK ({len(BAD)} bad graphs rejected, good graph accepted)")
    return 0


def main(argv: list[str]) -> int:
    args = argv[1:]
    if args[:1] in (["-h"], ["--help"]):
        print(__doc__)
        return 0
    if args[:1] == ["--self-test"]:
        return self_test()
    path = os.environ.get("COHORT_METADATA_JSON") or None
    if args[:1] == ["--metadata"] and len(args) == 2:
        path = args[1]
    elif args:
        print(f"check-deps: unknown arguments {args}; see --help", file=sys.stderr)
        return 2
    return run(path)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
