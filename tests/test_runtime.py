"""The embedded Ray a run starts: only the processes a run on one machine uses, token
authentication as `ray.init` sets it up, every process ended by `runtime.stop`; and Ray's own
local start when its private node API is not the one runtime.py was written for."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

#: starts the embedded Ray in a fresh process, runs a task, and prints the command lines of the
#: Ray processes it started; `broken`: a Ray whose private RayParams has no `no_monitor`
SCRIPT = """
import sys
import psutil
if sys.argv[1] == "broken":
    import ray._private.parameter
    original = ray._private.parameter.RayParams

    def without_no_monitor(**kwargs):
        if "no_monitor" in kwargs:
            raise TypeError("RayParams.__init__() got an unexpected keyword argument 'no_monitor'")
        return original(**kwargs)
    ray._private.parameter.RayParams = without_no_monitor
import ray
from dataprep import runtime
runtime.start(num_cpus=1)
assert ray.get(ray.remote(lambda: 41 + 1).remote()) == 42
from ray._raylet import AuthenticationMode, get_authentication_mode
print("started by dataprep:", runtime._head is not None, "token auth:", get_authentication_mode() == AuthenticationMode.TOKEN)
children = psutil.Process().children(recursive=True)
for p in children:
    print(" ".join(p.cmdline()))
runtime.stop()
print("left running:", len(psutil.wait_procs(children, timeout=60)[1]))
"""


@pytest.mark.parametrize("api", ["as written", "broken"])
def test_embedded_ray_runs_without_the_daemons_it_does_not_need(api):
    environment = {k: v for k, v in os.environ.items() if k != "RAY_AUTH_MODE"}  # Ray's default: token authentication
    result = subprocess.run([sys.executable, "-c", SCRIPT, api], capture_output=True, text=True, timeout=300, env=environment)
    assert result.returncode == 0, result.stderr[-3000:]
    processes = result.stdout
    assert "raylet" in processes and "gcs_server" in processes
    assert "token auth: True" in processes, "the embedded head authenticates as ray.init's does"
    assert "left running: 0" in processes, "stop() ends every process the start began"
    if api == "as written":
        assert "started by dataprep: True" in processes
        for daemon in ("monitor.py", "log_monitor.py", "dashboard.py"):
            assert daemon not in processes, daemon
    else:  # Ray's own local start, daemons and all: slower, the same run
        assert "started by dataprep: False" in processes and "log_monitor.py" in processes


def test_the_sigterm_handler_before_a_session_is_back_after_it():
    """After Ray stops (the summary and report still to write), SIGTERM is the CLI's one line
    again: the session put back Ray's handler, and a SIGTERM then ended the run silently (143)."""
    script = (
        "import signal\n"
        "from dataprep import runtime\n"
        "def mine(*args): raise KeyboardInterrupt\n"
        "signal.signal(signal.SIGTERM, mine)\n"
        "with runtime.session(None, 1):\n"
        "    assert signal.getsignal(signal.SIGTERM) is not mine\n"  # the session's own, raising the same
        "print('after:', signal.getsignal(signal.SIGTERM) is mine)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and "after: True" in result.stdout, result.stderr[-2000:]


FAILING_DATASET = """
import sys
from dataprep import runtime

runtime.quiet_environment()
runtime.start(None, 1)
def gone(batch):
    raise OSError("the store went away")
try:
    runtime.data().range(10, override_num_blocks=2).map_batches(gone).materialize()
except Exception as exc:
    print("the run's own line:", type(exc).__name__, file=sys.stderr)
runtime.stop()
"""


def test_ray_datas_failure_logs_stay_out_of_the_terminal():
    """A Ray Data task that fails (a store gone during a shuffle) printed Ray Data's abort, a
    traceback and the failed transform (144-221 lines on a cluster) above the run's one line."""
    done = subprocess.run([sys.executable, "-c", FAILING_DATASET], capture_output=True, text=True, timeout=300)
    assert done.stderr.strip().splitlines() == ["the run's own line: RayTaskError(UserCodeException)"], done.stderr[-2000:]
