"""Fetches the jars of requirements/jars.txt with Maven and checks each against its sha256.

    python scripts/local/fetch_jars.py [--pins requirements/jars.txt] [--into .cache/jars]

Run by `make setup`. A jar already in the folder with the right digest is not fetched again; a
jar whose digest differs is removed and the run fails (exit 1), naming it. Exit 2: no `mvn`.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PINS = REPO / "requirements" / "jars.txt"
JARS = REPO / ".cache" / "jars"
# The plugin that copies one artifact (never its dependencies) out of the local Maven repository.
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy"


def pins(path: Path = PINS) -> list[tuple[str, str]]:
    """(group:artifact:version, sha256) of every pin line."""
    lines = (line.split("#")[0].split() for line in path.read_text().splitlines())
    return [(fields[0], fields[1]) for fields in lines if fields]


def jar_name(coordinates: str) -> str:
    _, artifact, version = coordinates.split(":")
    return f"{artifact}-{version}.jar"


def jar_paths(into: Path = JARS, path: Path = PINS) -> list[Path]:
    """Where the pinned jars are once fetched, in pin order."""
    return [into / jar_name(coordinates) for coordinates, _ in pins(path)]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(into: Path, path: Path) -> list[str]:
    """Fetches what is missing; returns the problems (empty when every jar is as pinned)."""
    into.mkdir(parents=True, exist_ok=True)
    problems = []
    for coordinates, expected in pins(path):
        jar = into / jar_name(coordinates)
        if not (jar.exists() and sha256(jar) == expected):
            jar.unlink(missing_ok=True)
            command = ["mvn", "-B", "-q", DEPENDENCY_PLUGIN, f"-Dartifact={coordinates}:jar"]
            done = subprocess.run([*command, f"-DoutputDirectory={into}"], text=True)
            if done.returncode != 0:
                problems.append(f"mvn could not fetch {coordinates} (exit {done.returncode})")
                continue
        actual = sha256(jar)
        if actual != expected:
            jar.unlink()
            problems.append(f"{coordinates}: sha256 {actual}, pinned {expected}; removed")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pins", type=Path, default=PINS, help="pin file (default: %(default)s)")
    parser.add_argument("--into", type=Path, default=JARS, help="jar folder (default: %(default)s)")
    args = parser.parse_args(argv)
    if shutil.which("mvn") is None:
        print("fetch_jars: mvn is not on PATH (Maven fetches the S3A jars)", file=sys.stderr)
        return 2
    problems = fetch(args.into, args.pins)
    for problem in problems:
        print(f"fetch_jars: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
