#!/usr/bin/env python3
"""Copies the Docker build context (the repository's files less what
.dockerignore excludes) into DEST, so that CI can run the Dockerfile's cargo
command on exactly what `docker build .` would send, without a container
engine. A build that needs a file the context leaves out then fails in CI.

Supports the .dockerignore forms this repository uses: `name`, `dir/`,
`*.ext`, `**/name/` (any depth); `!` exceptions are refused.

Usage: docker_context.py DEST
"""

import fnmatch
import pathlib
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def patterns() -> list:
    found = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("!"):
            sys.exit(f".dockerignore: exceptions ({line}) are not supported by {__file__}")
        found.append(line.rstrip("/"))
    return found


def excluded(path: str, rules: list) -> bool:
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for rule in rules:
        if rule.startswith("**/"):
            name = rule[3:]
            if any(fnmatch.fnmatchcase(part, name) for part in parts):
                return True
        elif "/" not in rule:
            # Docker matches from the context root: `*.db` is a top-level name.
            if fnmatch.fnmatchcase(parts[0], rule):
                return True
        elif any(fnmatch.fnmatchcase(prefix, rule) for prefix in prefixes):
            return True
    return False


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    dest = pathlib.Path(sys.argv[1])
    if dest.exists():
        shutil.rmtree(dest)
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")
    rules = patterns()
    copied = 0
    for path in filter(None, listed):
        source = ROOT / path
        if not source.is_file() or excluded(path, rules):
            continue
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        copied += 1
    for must_be_out in (".ci/run", "k8s/README.md"):
        if (dest / must_be_out).exists():
            sys.exit(f"{must_be_out} should be outside the Docker context")
    print(f"Docker build context: {copied} files in {dest}")


if __name__ == "__main__":
    main()
