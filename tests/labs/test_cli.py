"""The lab command line's one-line errors: every unknown word gets a way forward, --lang each language once."""
import pytest

from backproplab.cli import main


@pytest.mark.parametrize("argv, words", [
    (["lab", "graph", "--zzz", "1"], "`backproplab lab graph --help` lists the options"),
    (["lab", "graph", "quick"], "`backproplab lab graph --help` lists the options"),
    (["lab", "quadratic", "--num-step", "3"], "did you mean --num-steps"),
    (["course", "shwo", "x"], "did you mean 'show'?"),
    (["lab", "graph", "--lang", "en,fa,en"], "--lang names en twice"),
])
def test_a_bad_word_gets_one_line_and_a_way_forward(argv, words, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("text", ["1,,2", "1,2,", ",1"])
def test_a_comma_list_with_an_empty_entry_is_refused(text, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["lab", "activations", f"--depths={text}"])
    assert exit_.value.code == 2
    assert f"--depths has an empty entry in {text!r}" in capsys.readouterr().err


def test_an_empty_comma_list_is_no_entries():
    from backproplab.labs.cli import field_parser

    assert field_parser(tuple[int, ...], "--x")("") == () and field_parser(tuple[int, ...], "--x")(" 1 , 2") == (1, 2)
