"""`modelship serve` refuses a port that another process holds with one line naming the
option to change, before it starts Triton (whose own complaint is buried in its log)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from click.testing import CliRunner
from modelship.cli import main


@pytest.mark.parametrize("option", ["--http-port", "--grpc-port", "--metrics-port"])
def test_a_port_in_use_is_refused_naming_its_option(option: str, tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m/config.pbtxt").write_text('name: "m"\n')
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        ports = {"--http-port": "0", "--grpc-port": "0", "--metrics-port": "0", option: str(port)}
        arguments = [item for pair in ports.items() for item in pair]
        result = CliRunner().invoke(main, ["serve", str(tmp_path), *arguments])

    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"Error: cannot use 127.0.0.1:{port} ({option}): Address already in use; stop what"
        f" holds it or choose another {option}"
    ]
