"""Kills leave nothing behind: a killed run's staging folder goes on the next run, pool workers end
with their parent, and two batches never write to one root at once."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from prediction.helpers import BallModel, model_set

from isla_nnunet.conversion.cases import CaseSpec
from isla_nnunet.errors import ISLAError
from isla_nnunet.io.folder_lock import folder_lock
from isla_nnunet.io.leftovers import staging_name
from isla_nnunet.prediction.batch import predict_batch
from isla_nnunet.prediction.pipeline import PredictionSettings, predict_case


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_next_run_removes_a_killed_runs_staging_folder(native_case, tmp_path):
    spec = CaseSpec("sim5", str(native_case["dwi"]), adc=str(native_case["adc"]),
                    brain=str(native_case["brainmask"]), role="test")
    dead = tmp_path / f".out.partial-{dead_pid()}-0123456789"
    (dead / "half").mkdir(parents=True)
    live = tmp_path / staging_name("out")  # this process: a run still going
    live.mkdir()
    other_case = tmp_path / f".other.partial-{dead_pid()}-0123456789"
    other_case.mkdir()
    predict_case(spec, model_set(BallModel()), tmp_path / "out")
    assert not dead.exists()
    assert live.exists() and other_case.exists()  # alive, or another case's: not this run's to remove
    assert (tmp_path / "out" / "report.json").is_file()


def test_second_batch_on_the_same_root_is_refused(native_case, tmp_path):
    spec = CaseSpec("c1", str(native_case["dwi"]), adc=str(native_case["adc"]), role="test")
    with folder_lock(tmp_path / "out", "isla predict"):
        with pytest.raises(ISLAError, match=r"another isla predict \(process \d+\) is writing to"):
            predict_batch([spec], model_set(BallModel()), tmp_path / "out", PredictionSettings(), progress=False)
    assert not (tmp_path / "out" / "c1").exists()


def test_lock_is_released_by_a_killed_holder(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from isla_nnunet.io.folder_lock import folder_lock
        with folder_lock({str(tmp_path)!r}, "isla predict"):
            print("locked", flush=True)
            time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(ISLAError, match=f"process {holder.pid}"):
        with folder_lock(tmp_path, "isla predict"):
            pass
    holder.kill()
    holder.wait()
    with folder_lock(tmp_path, "isla predict"):  # the kernel dropped the dead holder's lock
        pass


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[1]) == pid and b"spawn_main" in cmdline:
                found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"  # an unreaped zombie has exited


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process parents from Linux /proc")
def test_convert_workers_exit_when_the_parent_is_killed(native_case, tmp_path):
    cases = tmp_path / "cases"
    cases.mkdir()
    for i in range(6):
        for key in ("dwi", "adc"):
            shutil.copy(native_case[key], cases / f"c{i}_{key}.nii.gz")
    parent = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        from isla_nnunet.conversion import convert_dataset, discover_cases
        convert_dataset(discover_cases({str(cases)!r}), {str(tmp_path / "Dataset954_Kill")!r},
                        num_processes=2, progress=False)
    """)])
    try:
        deadline = time.monotonic() + 60
        while len(workers := _children(parent.pid)) < 2:
            assert time.monotonic() < deadline, "the workers never started"
            assert parent.poll() is None, "the conversion ended before it could be killed"
            time.sleep(0.2)
        time.sleep(1.0)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    deadline = time.monotonic() + 20
    while any(_running(pid) for pid in workers):
        assert time.monotonic() < deadline, f"workers {[p for p in workers if _running(p)]} outlived their parent"
        time.sleep(0.2)
