"""Distribution: strategy selection, multi-worker training, even batches, CPU splitting,
and a replica-correct optimizer step for custom `train_step`s."""

from kerastricks.distribute.batching import trim_to_replicas
from kerastricks.distribute.multi_worker import MultiWorkerMirroredStrategy, is_chief, worker_dir
from kerastricks.distribute.optimizer_step import optimizer_step
from kerastricks.distribute.strategy import split_cpu, strategy

__all__ = [
    "MultiWorkerMirroredStrategy",
    "is_chief",
    "optimizer_step",
    "split_cpu",
    "strategy",
    "trim_to_replicas",
    "worker_dir",
]
