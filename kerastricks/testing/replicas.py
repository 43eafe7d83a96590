"""The two replicas of the harness's mirrored cells, one strategy per process."""

import tensorflow as tf

from kerastricks._checks import fail

__all__ = ["mirrored_strategy"]


_STRATEGY = []


def mirrored_strategy():
    """The process's two-replica `MirroredStrategy`, with TensorFlow's default all-reduce.

    Over two GPUs when there are, else over two logical CPUs (call
    `kt.distribute.split_cpu(2)` at program start). One strategy serves the whole process:
    every `MirroredStrategy` starts its collective keys at the same number, so a second
    one in the same process fails.

    Returns:
        The `tf.distribute.MirroredStrategy`.

    Raises:
        RuntimeError: fewer than two devices.

    Example:

    >>> import kerastricks as kt
    >>> kt.testing.mirrored_strategy().num_replicas_in_sync
    2
    """
    if not _STRATEGY:
        gpus = tf.config.list_logical_devices("GPU")
        devices = gpus if len(gpus) >= 2 else tf.config.list_logical_devices("CPU")
        if len(devices) < 2:
            fail(
                "Two devices are needed: call kt.distribute.split_cpu(2) at program start.",
                "devices",
                [d.name for d in devices],
                RuntimeError,
            )
        _STRATEGY.append(tf.distribute.MirroredStrategy([d.name for d in devices[:2]]))
    return _STRATEGY[0]
