"""scripts/measure_readme.py: the README's sentences about measured runs follow the numbers both ways."""
import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "measure_readme.py"


def _script():
    spec = importlib.util.spec_from_file_location("measure_readme", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TIMING = [{"command": "backproplab lab a", "seconds": 100.0}, {"command": "backproplab lab b", "seconds": 50.0},
          {"command": "backproplab lab c", "seconds": 50.0}, {"command": "backproplab calc x", "seconds": 1.0}]


def test_the_course_goal_is_said_met_or_missed_from_the_wall_time():
    m = _script()
    met = m.course_text({"timing": TIMING, "wall_s": m.COURSE_GOAL_S - 1}, "here")
    missed = m.course_text({"timing": TIMING, "wall_s": m.COURSE_GOAL_S + 1}, "here")
    assert "within the goal" in met and "over the goal" not in met
    assert "over the goal" in missed and "within the goal" not in missed
    # the longest two labs and their share of the labs' summed time (calculators not counted)
    assert "`a` and `b` take 75%" in met
    rows = [line for line in met.splitlines() if line.startswith("| `")]
    assert [r.split("`")[1] for r in rows] == ["backproplab lab a", "backproplab lab b", "backproplab lab c"]
