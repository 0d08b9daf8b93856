"""README's Quick start works as written (issue 14, point 7): a plain `meterbill serve`
on an empty database prints a line to paste, and the curl and Python examples, run in a
shell where it was pasted, create the customer."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import _free_port

README = Path(__file__).resolve().parents[2] / "README.md"


def _block(language: str, containing: str) -> str:
    """The README's first fenced block of that language that contains `containing`."""
    for body in re.findall(rf"```{language}\n(.*?)```", README.read_text(), flags=re.S):
        if containing in body:
            return body
    raise AssertionError(f"no {language} block with {containing!r} in README.md")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`meterbill serve` as `make serve` runs it, on an empty database: (base URL, log)."""
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("METERBILL_")}
    env["METERBILL_DATABASE_URL"] = f"sqlite:///{tmp_path / 'quick.db'}"
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "meterbill", "serve", "--port", str(port)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        yield f"127.0.0.1:{port}", log.read_text()
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_quick_start_examples_work_after_a_plain_serve(served: tuple[str, str]) -> None:
    address, log = served
    pasted = re.search(r"^\s*export METERBILL_API_KEY=(mb_\S+)$", log, flags=re.M)
    assert pasted, log
    env = {**os.environ, "METERBILL_API_KEY": pasted.group(1)}

    curl = _block("sh", "curl ").replace("127.0.0.1:3000", address)
    assert shutil.which("curl"), "the README's example needs curl"
    created = subprocess.run(
        ["bash", "-c", curl], env=env, capture_output=True, text=True, check=True
    )
    assert '"external_id":"cus_1"' in created.stdout and '"name":"Acme"' in created.stdout

    python = _block("python", "Client(").replace("127.0.0.1:3000", address)
    subprocess.run([sys.executable, "-c", python], env=env, check=True)
    found = httpx.get(
        f"http://{address}/api/v1/customers/cus_1",
        headers={"Authorization": f"Bearer {pasted.group(1)}"},
    )
    assert found.json()["customer"]["currency"] == "EUR"


def test_the_cli_is_reachable_as_the_readme_names_it() -> None:
    readme = README.read_text()
    assert ".venv/bin/meterbill" in readme
    # The console script `pip install -e .` puts beside the interpreter, as in .venv/bin.
    script = Path(sys.executable).parent / "meterbill"
    assert script.exists()
    assert "serve" in subprocess.run([script, "--help"], capture_output=True, text=True).stdout


def test_the_readme_says_what_make_test_costs_and_its_part_commands_select_tests() -> None:
    assert "What `make test` costs" in README.read_text()
    block = _block("sh", ".venv/bin/pytest tests/")
    commands = [
        shlex.split(line.split("#")[0])[1:]
        for line in block.splitlines()
        if line.startswith(".venv/bin/pytest")
    ]
    assert len(commands) >= 3
    root = README.parent
    for arguments in commands:
        collected = subprocess.run(
            [sys.executable, "-m", "pytest", "--collect-only", "-q", *arguments],
            cwd=root, capture_output=True, text=True,
        )  # fmt: skip
        assert collected.returncode == 0, (arguments, collected.stdout[-500:])
        assert re.search(r"^\d+(/\d+)? tests? (collected|selected)", collected.stdout, re.M), (
            arguments,
            collected.stdout[-300:],
        )
