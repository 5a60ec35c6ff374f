"""The labs: one module each, found by :mod:`.registry` from its ``NAME`` (imported only when
run, so one lab's extra dependency, e.g. PyTorch for ``mobilenet``, never breaks the others).

What a lab module defines (NAME, Config, ``run``, ``report``): CONTRIBUTING.md, "Add a lab".
The framework: :mod:`.config` (options), :mod:`.run_folder`, :mod:`.runner`, :mod:`.cli`,
:mod:`.progress`, :mod:`.plotting`, :mod:`.executor` / :mod:`.cluster`, :mod:`.suite` (``lab all``).
"""
