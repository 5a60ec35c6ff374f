"""`backproplab lab` without a lab: the list of labs, also into a pipe that is closed early."""
import subprocess
import sys


def test_the_lab_list_into_a_closed_pipe_is_no_error():
    proc = subprocess.Popen([sys.executable, "-m", "backproplab", "lab"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()  # closed before the list is printed: every write meets a broken pipe
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0 and "Traceback" not in err and "BrokenPipe" not in err
