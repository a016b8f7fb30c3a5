"""The command encoder: no value can end its command line or add an argument, whatever it contains."""

from __future__ import annotations

import random

import pytest

from screener.agi import commands
from screener.agi.errors import UnsafeValueError
from tests.agi.asterisk_parse import parse_args, split_lines

NASTY = [
    '123\nEXEC System "rm -rf /"',
    "123\rEXEC System x",
    "a\x00b",
    'say "hi"',
    "back\\slash\\",
    '\\"',
    "tab\there",
    "",
    " leading and trailing ",
    "测试 unicode ✓",
    '" EXEC System "x',
]


@pytest.mark.parametrize("value", [v for v in NASTY if not any(c in v for c in "\n\r\x00\t")])
def test_quoted_value_parses_back_as_exactly_one_argument(value: str) -> None:
    line = commands.set_variable("X", value).encode()
    [single] = split_lines(line)
    assert parse_args(single.decode()) == ["SET", "VARIABLE", "X", value]


@pytest.mark.parametrize("value", ['123\nEXEC System "rm -rf /"', "x\ry", "a\x00b", "t\tb", "\x1b[2J"])
def test_control_characters_are_refused(value: str) -> None:
    with pytest.raises(UnsafeValueError):
        commands.set_variable("X", value)


def test_sanitize_strips_controls_and_caps() -> None:
    assert commands.sanitize('123\nEXEC System "rm -rf /"\x00') == '123EXEC System "rm -rf /"'
    assert len(commands.sanitize("9" * 1000)) == 256


def test_over_long_values_are_refused_so_the_line_fits_old_asterisk() -> None:
    commands.set_variable("X", "a" * commands.MAX_VALUE_BYTES)  # fits (plus quotes)
    with pytest.raises(UnsafeValueError):
        commands.set_variable("X", "a" * (commands.MAX_VALUE_BYTES + 1))
    with pytest.raises(UnsafeValueError):  # escaping counts
        commands.set_variable("X", '"' * (commands.MAX_VALUE_BYTES // 2 + 1))
    with pytest.raises(UnsafeValueError):  # multi-byte characters count in bytes
        commands.set_variable("X", "测" * 400)
    longest = commands.set_variable("X" * 80, "\\" * (commands.MAX_VALUE_BYTES // 2)).encode()
    assert len(split_lines(longest)) == 1


def test_random_values_never_make_a_second_command() -> None:
    rng = random.Random(4)
    alphabet = ' "\\\n\r\x00\tabc$%{}()&|;=测'
    for _ in range(5000):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        try:
            line = commands.set_variable("X", value).encode()
        except UnsafeValueError:
            assert any(c in value for c in "\n\r\x00\t")
            continue
        [single] = split_lines(line)
        assert parse_args(single.decode()) == ["SET", "VARIABLE", "X", value]


@pytest.mark.parametrize("name", ["SCREEN_RESULT", "GOSUB_RESULT", "CALLERID(num)", "a1", "_X"])
def test_good_names(name: str) -> None:
    assert commands.set_variable(name, "1").line.startswith(f"SET VARIABLE {name} ")


@pytest.mark.parametrize("name", ["", "A B", "X\n", 'X"', "1X", "SHELL(rm -rf /)", "X(a)b", "X" * 81, "X$"])
def test_bad_names(name: str) -> None:
    with pytest.raises(UnsafeValueError):
        commands.set_variable(name, "1")


@pytest.mark.parametrize("file", ["custom/screener/us-sales-en", "/var/lib/prompts/acme-en", "beep"])
def test_good_sound_files(file: str) -> None:
    assert commands.stream_file(file, "9").line == f'STREAM FILE {file} "9"'


@pytest.mark.parametrize("file", ["", "a b", "../etc/passwd", "custom/../x", 'x"', "x\ny", "a//b"])
def test_bad_sound_files(file: str) -> None:
    with pytest.raises(UnsafeValueError):
        commands.stream_file(file, "9")


@pytest.mark.parametrize("digits", ["9 ", "a", '9"', "\n"])
def test_bad_digit_sets(digits: str) -> None:
    with pytest.raises(UnsafeValueError):
        commands.stream_file("beep", digits)


def test_command_shapes_match_the_recorded_sessions() -> None:
    assert commands.stream_file("beep", "9").encode() == b'STREAM FILE beep "9"\n'
    assert commands.wait_for_digit(3000).encode() == b"WAIT FOR DIGIT 3000\n"
    assert commands.set_variable("SCREEN_RESULT", "ALLOW").encode() == b'SET VARIABLE SCREEN_RESULT "ALLOW"\n'
    assert commands.set_variable("SCREEN_REASONS", "").encode() == b'SET VARIABLE SCREEN_REASONS ""\n'
    assert commands.get_variable("SCREENER_CAMPAIGN").encode() == b"GET VARIABLE SCREENER_CAMPAIGN\n"
    assert commands.verbose("a\nb").encode() == b'VERBOSE "ab" 1\n'
