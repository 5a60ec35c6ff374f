"""Measure the README's figures on this checkout and write them into the README.

    python scripts/measure_readme.py main-job     # fresh clone: install time, `lab all` time and numbers
    python scripts/measure_readme.py tests        # the suite: number of tests and wall time
    python scripts/measure_readme.py course       # `course run`: every lab at full settings, time per lab
    python scripts/measure_readme.py bench        # benchmarks/: NumPy time / PyTorch time, side by side
    python scripts/measure_readme.py screenshots  # the README's English and Persian report pictures (headless
                                                  # Chromium) from runs/all/optimizers, run with --lang en,fa
    python scripts/measure_readme.py write        # put the figures of docs/measured.json into the README

Each measurement goes into ``docs/measured.json`` with the date, the machine (CPU model, core
count, load average before and after) and the commit; ``write`` replaces the text between
``<!-- measured:NAME -->`` and ``<!-- /measured:NAME -->`` in README.md, so every figure there
comes from a run of this script, never from a hand edit.
"""
from __future__ import annotations

import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MEASURED = ROOT / "docs" / "measured.json"


def machine() -> dict:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "load_before": round(os.getloadavg()[0], 2),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                     text=True).stdout.strip()}


def save(name: str, data: dict) -> None:
    all_ = json.loads(MEASURED.read_text()) if MEASURED.exists() else {}
    data["machine"]["load_after"] = round(os.getloadavg()[0], 2)
    all_[name] = data
    MEASURED.write_text(json.dumps(all_, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {MEASURED.relative_to(ROOT)} [{name}]")


def timed(cmd: list[str], cwd: Path, env=None) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return time.perf_counter() - t0, done


def main_job() -> None:
    """A fresh clone beside the shared data: setup (install) and the main job, timed apart."""
    info = machine()
    with tempfile.TemporaryDirectory(dir=ROOT.parent) as tmp:
        clone = Path(tmp) / "main"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        install_s, _ = timed(["bash", "scripts/setup.sh"], clone)
        total_s, done = timed(["bash", "scripts/run_labs.sh"], clone)
        index = json.loads((clone / "runs" / "all" / "index.json").read_text())
    labs = [{"lab": e["lab"], "best_test_acc": e["result"].get("best_test_acc"),
             "best_model": e["result"].get("best_model"), "wall_s": e["wall_s"]} for e in index["labs"] if e["ok"]]
    save("main_job", {"machine": info, "install_s": install_s, "labs_s": total_s, "labs": labs,
                      "options": index["options"]})


def tests() -> None:
    info = machine()
    with tempfile.NamedTemporaryFile(suffix=".xml") as report:
        t0 = time.perf_counter()
        done = subprocess.run(["bash", "scripts/test.sh", f"--junitxml={report.name}", "-q"], cwd=ROOT,
                              capture_output=True, text=True)
        wall = time.perf_counter() - t0
        xml = Path(report.name).read_text()
    suite = re.search(r'<testsuite [^>]*tests="(\d+)"[^>]*', xml).group(0)
    count = {k: int(v) for k, v in re.findall(r'(tests|failures|errors|skipped)="(\d+)"', suite)}
    save("tests", {"machine": info, "wall_s": wall, "status": done.returncode, **count})


def course() -> None:
    info = machine()
    out = ROOT / "runs" / "measure-course"
    wall, _ = timed([str(ROOT / ".venv" / "bin" / "backproplab"), "course", "run", "--out", str(out), "--lang",
                     "en", "--json"], ROOT)
    answers = json.loads((out / "answers.json").read_text())
    save("course", {"machine": info, "wall_s": wall, "timing": answers["timing"],
                    "verdicts": {v: sum(r["verdict"] == v for r in answers["rows"])
                                 for v in ("pass", "FAIL", "error", "not run", "not checkable")}})


#: (benchmark command, what it measures): each prints lines "ratio ... : R"
BENCHES = [
    (["benchmarks/bench_mlp.py", "--batch-sizes", "128"], "MLP 784-256-128-10, Adam, batch 128, one epoch"),
    (["benchmarks/bench_cnn.py"], "CNN conv-pool-conv-pool-FC, SGD, batch 64 (plain; DataParallel threads; processes)"),
    (["benchmarks/bench_rnn.py", "--phrases"], "RNN on every SST training phrase, one epoch, 1 thread"),
    (["benchmarks/bench_deform.py"], "DeformConv2d 32->32 channels, 14x14, batch 32, forward+backward"),
]


def bench() -> None:
    info = machine()
    rows = []
    for args, what in BENCHES:
        _, done = timed([str(ROOT / ".venv" / "bin" / "python"), *args], ROOT)
        # bench_mlp prints a table (batch, samples, numpy s, torch s, ratio, %peak x2, then DataParallel in
        # threads and in processes: s, ratio, %peak each); the others print "ratio LABEL: R" lines
        row = re.search(r"^\s*128\s+\d+\s+[0-9.]+\s+[0-9.]+\s+([0-9.]+)\s+\S+\s+\S+\s+[0-9.]+\s+([0-9.]+)"
                        r"\s+\S+\s+[0-9.]+\s+([0-9.]+)", done.stdout, re.M)
        if row:
            ratios = list(zip(("numpy / pytorch", "numpy DataParallel / pytorch",
                               "numpy DataParallel (processes) / pytorch"), row.groups()))
        else:
            ratios = re.findall(r"^ratio ([^:\n]*?):\s*([0-9.]+)", done.stdout, re.M)
        rows.append({"benchmark": " ".join(args), "what": what,
                     "ratios": [{"label": " ".join(label.split()), "ratio": float(r)} for label, r in ratios]})
    save("bench", {"machine": info, "rows": rows})


def screenshots() -> None:
    """docs/figures/report_en.png and report_fa.png: the top of the main job's optimizers report."""
    import shutil

    from playwright.sync_api import sync_playwright

    run = ROOT / "runs" / "all" / "optimizers"
    if not (run / "report.fa.html").exists():
        sys.exit(f"{run}/report.fa.html is missing: run `bash scripts/run_labs.sh --lang en,fa` first")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"),
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        for lang, page_file in (("en", "report.html"), ("fa", "report.fa.html")):
            page = browser.new_page(viewport={"width": 900, "height": 1100})
            page.goto((run / page_file).as_uri(), wait_until="load")
            page.screenshot(path=str(ROOT / "docs" / "figures" / f"report_{lang}.png"))
            page.close()
        browser.close()
    print("wrote docs/figures/report_en.png and report_fa.png")


def _fmt_s(s: float) -> str:
    return f"{s:.0f} s" if s < 120 else f"{int(s // 60)} min {s % 60:.0f} s"


#: the course run's goal: every lab but MobileNet within 20 minutes on 2 cores
COURSE_GOAL_S = 20 * 60


def course_text(data: dict, where: str) -> str:
    """The course run's time against its goal, with the share of the two longest labs, from the numbers."""
    labs = sorted((t for t in data["timing"] if " lab " in t["command"]), key=lambda t: -t["seconds"])
    rows = "\n".join(f"| `{t['command']}` | {t['seconds']:.0f} |" for t in labs)
    total, wall = sum(t["seconds"] for t in labs), data["wall_s"]
    top = labs[:2]
    share = sum(t["seconds"] for t in top) / total if total else 0.0
    verdict = ("within" if wall <= COURSE_GOAL_S else "over") + f" the goal of {_fmt_s(COURSE_GOAL_S)} on 2 cores"
    return (f"`backproplab course run` (every lab but mobilenet, full settings, two labs side by side on the "
            f"two cores): {_fmt_s(wall)}, {verdict} ({where}). "
            f"{' and '.join('`' + t['command'].split()[2] + '`' for t in top)} take {share:.0%} of the labs' summed "
            f"time. The time each command took while sharing the machine with another:\n\n"
            f"| command | seconds |\n|---|---|\n{rows}")


def render(name: str, data: dict) -> str:
    m = data["machine"]
    where = f"measured {m['date']} on {m['cores']} cores ({m['cpu']}), load average {m['load_before']} before"
    if name == "main_job":
        rows = "\n".join(f"| {r['lab']} | {r['best_test_acc']:.2%} | {r['best_model']} |" for r in data["labs"])
        return (f"`bash scripts/run_labs.sh` in a fresh clone: install {_fmt_s(data['install_s'])} "
                f"(`scripts/setup.sh`), then the labs {_fmt_s(data['labs_s'])} ({where}).\n\n"
                f"| lab | best test accuracy | best model |\n|---|---|---|\n{rows}")
    if name == "tests":
        return (f"`bash scripts/test.sh`: {data['tests']} tests ({data['skipped']} skipped, {data['failures']} "
                f"failed) in {_fmt_s(data['wall_s'])} ({where}).")
    if name == "bench":
        lines = "\n".join(f"| `{r['benchmark']}` | {r['what']} | "
                          + "; ".join(f"{x['label']}: **{x['ratio']:.2f}**" for x in r["ratios"]) + " |"
                          for r in data["rows"])
        return (f"NumPy time / PyTorch time, both measured in the same run ({where}):\n\n"
                f"| script | what | ratio |\n|---|---|---|\n{lines}")
    if name == "course":
        return course_text(data, where)
    raise KeyError(name)


def write() -> None:
    measured = json.loads(MEASURED.read_text())
    readme = (ROOT / "README.md").read_text()
    for name, data in measured.items():
        pattern = re.compile(rf"(<!-- measured:{name} -->\n).*?(\n<!-- /measured:{name} -->)", re.S)
        if pattern.search(readme):
            readme = pattern.sub(lambda m: m.group(1) + render(name, data) + m.group(2), readme)
    (ROOT / "README.md").write_text(readme)
    print("README.md updated from docs/measured.json")


if __name__ == "__main__":
    commands = {"main-job": main_job, "tests": tests, "course": course, "bench": bench,
                "screenshots": screenshots, "write": write}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]]()
