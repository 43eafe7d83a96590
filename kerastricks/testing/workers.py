"""Running one script as a cluster of worker processes on this machine (loopback ports)."""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time

from kerastricks._checks import check_int, fail

__all__ = ["run_workers"]


def free_ports(count: int) -> list:
    """`count` loopback ports that were free a moment ago (bound to port 0, then closed)."""
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def tf_config(ports, index: int) -> str:
    """The `TF_CONFIG` of worker `index` in a cluster of workers on `127.0.0.1:ports`."""
    workers = [f"127.0.0.1:{port}" for port in ports]
    return json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})


def run_workers(args, workers: int = 2, timeout: float = 600.0, env=None) -> list:
    """Runs `python *args` as `workers` processes of one `MultiWorkerMirroredStrategy` cluster.

    Each process gets a `TF_CONFIG` naming a cluster of `workers` workers on free loopback
    ports, and its own index; everything else (arguments, working folder, environment) is
    the same. A script that calls `kt.distribute.strategy()` before TensorFlow runs anything
    then trains as one worker of the cluster; `kt.testing.check_composition(...,
    cells=["two_workers"], workers=strategy)` in it compares that training with one device.
    This is how a two-machine training is tested on one machine, and how the `two_workers`
    column of the composition matrix (docs/distribute.md) is measured.

    Args:
        args: the arguments after the Python interpreter: `["script.py", "--flag"]` or
            `["-m", "package.module"]`.
        workers: the number of worker processes. Defaults to 2.
        timeout: seconds to wait for all of them before they are killed (a collective whose
            peer died waits forever). Defaults to 600.
        env: extra environment variables for every worker. Defaults to none.

    Returns:
        The workers' outputs (stdout and stderr, interleaved), by index.

    Raises:
        RuntimeError: a worker exited with an error or did not finish in `timeout`; the
            message has the end of every worker's output.

    Example:

    >>> import kerastricks as kt
    >>> code = "import json, os; print(json.loads(os.environ['TF_CONFIG'])['task']['index'])"
    >>> [out.strip() for out in kt.testing.run_workers(["-c", code])]
    ['0', '1']
    """
    check_int("workers", workers, minimum=1)
    if isinstance(args, str):
        fail("Pass the arguments as a list.", "args", args)
    ports = free_ports(workers)
    base = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    with tempfile.TemporaryDirectory() as folder:
        logs = [open(os.path.join(folder, f"worker_{i}.log"), "w+") for i in range(workers)]
        procs = [
            subprocess.Popen(
                [sys.executable, *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**base, "TF_CONFIG": tf_config(ports, i)},
            )
            for i, log in enumerate(logs)
        ]
        problem, deadline = None, time.monotonic() + timeout
        try:  # a worker that fails leaves its peers waiting in a collective: stop them too
            while problem is None:
                codes = [proc.poll() for proc in procs]
                failed = [i for i, code in enumerate(codes) if code not in (None, 0)]
                if failed:
                    problem = f"worker {failed[0]} exited with {codes[failed[0]]}"
                elif None not in codes:
                    break
                elif time.monotonic() > deadline:
                    problem = f"the workers did not finish in {timeout:g} s"
                else:
                    time.sleep(0.1)
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        outputs = []
        for log in logs:
            log.seek(0)
            outputs.append(log.read())
            log.close()
    if problem:
        tails = "\n".join(f"--- worker {i}\n{out[-3000:]}" for i, out in enumerate(outputs))
        raise RuntimeError(f"{problem}\n{tails}")
    return outputs
