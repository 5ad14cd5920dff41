"""The command line's argument types (bnlab._cli_args): what they accept, what they refuse, and the
one-line usage error a refusal becomes."""
from __future__ import annotations

import argparse
import os

import pytest

from bnlab import _cli_args
from bnlab._cli_args import non_negative_int, output_dir, output_file, positive_float, positive_int


@pytest.mark.parametrize("text, value", [("1", 1), ("7", 7), (" 12 ", 12), ("50000", 50_000)])
def test_positive_int_accepts_counts(text, value):
    assert positive_int(text) == value


@pytest.mark.parametrize("text", ["0", "-3", "2.5", "", "seven", "1e3"])
def test_positive_int_refuses_the_rest_and_quotes_it(text):
    with pytest.raises(argparse.ArgumentTypeError, match=f"must be a positive integer; got {text!r}"):
        positive_int(text)


def test_non_negative_int_takes_zero_but_not_less():
    assert non_negative_int("0") == 0 and non_negative_int("3") == 3
    for text in ("-1", "x"):
        with pytest.raises(argparse.ArgumentTypeError, match="must be an integer >= 0"):
            non_negative_int(text)


@pytest.mark.parametrize("text, value", [("0.5", 0.5), ("30", 30.0), ("1e-3", 1e-3)])
def test_positive_float_accepts_positive_numbers(text, value):
    assert positive_float(text) == value


@pytest.mark.parametrize("text", ["0", "-1", "nan", "inf", "-inf", "ten"])
def test_positive_float_refuses_zero_negative_and_non_finite(text):
    with pytest.raises(argparse.ArgumentTypeError, match=f"got {text!r}"):
        positive_float(text)


def test_output_file_in_an_existing_folder(tmp_path):
    assert output_file(str(tmp_path / "x.png")) == tmp_path / "x.png"
    (tmp_path / "old.png").write_bytes(b"")
    assert output_file(str(tmp_path / "old.png")) == tmp_path / "old.png"  # overwriting a file is fine


def test_output_file_refuses_a_missing_folder_and_a_folder(tmp_path):
    with pytest.raises(argparse.ArgumentTypeError, match="the folder .*missing.* does not exist"):
        output_file(str(tmp_path / "missing" / "x.png"))
    with pytest.raises(argparse.ArgumentTypeError, match="is a folder; give a file name"):
        output_file(str(tmp_path))


def test_output_file_in_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert output_file("x.png").name == "x.png"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write anywhere")
def test_output_file_refuses_a_read_only_folder(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(argparse.ArgumentTypeError, match="is not writable"):
        output_file(str(locked / "x.png"))


def test_output_dir_existing_or_creatable(tmp_path):
    assert output_dir(str(tmp_path)) == tmp_path
    assert output_dir(str(tmp_path / "new" / "deeper")) == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists()  # checking creates nothing


def test_output_dir_refuses_a_file_and_a_path_through_a_file(tmp_path):
    (tmp_path / "f").write_text("x", encoding="utf-8")
    with pytest.raises(argparse.ArgumentTypeError, match="is a file, not a folder"):
        output_dir(str(tmp_path / "f"))
    with pytest.raises(argparse.ArgumentTypeError, match="cannot create the folder .* is a file"):
        output_dir(str(tmp_path / "f" / "sub"))


def test_a_refused_value_is_one_line_and_exit_code_2(capsys):
    parser = _cli_args.ArgumentParser(prog="bnlab demo")
    parser.add_argument("--steps", type=positive_int, help="steps")
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["--steps", "0"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err == "bnlab demo: error: argument --steps: must be a positive integer; got '0' (see bnlab demo --help)\n"


def test_subcommand_parsers_make_one_line_errors_too(capsys):
    parser = _cli_args.ArgumentParser(prog="bnlab")
    sub = parser.add_subparsers(dest="command").add_parser("bench", help="b")
    sub.add_argument("--repeats", type=positive_int, help="r")
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["bench", "--repeats", "-2"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_install_hint_is_the_same_command_in_every_shell():
    # Double quotes keep the brackets from PowerShell, cmd and zsh's globbing alike.
    assert _cli_args.install_hint("bench") == 'python -m pip install -e ".[bench]"'
