"""A recipe's TensorBoard output: the training callbacks, series of numbers, report images.

Part of `kt.recipe_utils` (import these from there). TensorFlow is imported inside the
functions, which write with `tf.summary` (as Keras's own `TensorBoard` callback does).
"""

from pathlib import Path

__all__ = ["images_to_tensorboard", "tensorboard_callbacks", "write_scalars"]


def tensorboard_callbacks(log_dir, run: str) -> list:
    """The callbacks that write one training run into TensorBoard, or `[]` without `log_dir`.

    Writes into `log_dir/run`: Keras's `TensorBoard` callback (every loss and metric in
    the logs per epoch, which includes `MultiTaskModel`'s per-task sigmas and weights),
    and, for a model compiled with `kt.optimizers.LearningRateMultiplier`, the effective
    learning rate of every trainable variable per epoch as `learning_rate/VARIABLE_PATH`
    (from `effective_learning_rates`; also under `mixed_float16`, where compiling wraps it
    in Keras's `LossScaleOptimizer`). A `TrainingDoctor` writes its findings and probe
    numbers there too when given `log_dir=Path(log_dir) / run`.

    Args:
        log_dir: the recipe's `--tensorboard` folder, or `None`.
        run: the run's sub-folder, one per model trained (`"uncertainty"`, `"seed0"`).

    Returns:
        A list of Keras callbacks for `model.fit(callbacks=...)`.

    Example:

    >>> import kerastricks as kt
    >>> kt.recipe_utils.tensorboard_callbacks(None, "run")
    []
    """
    if log_dir is None:
        return []
    import keras

    from kerastricks.callbacks._state import unscaled_optimizer
    from kerastricks.optimizers import LearningRateMultiplier

    folder = Path(log_dir) / run

    class EffectiveLearningRates(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.writer = None
            # Under mixed_float16, compile wraps it in Keras's LossScaleOptimizer.
            self.multiplier = unscaled_optimizer(self.model.optimizer)
            if isinstance(self.multiplier, LearningRateMultiplier):
                import tensorflow as tf

                self.writer = tf.summary.create_file_writer(str(folder / "learning_rates"))

        def on_epoch_end(self, epoch, logs=None):
            if self.writer is None:
                return
            import tensorflow as tf

            rates = self.multiplier.effective_learning_rates(self.model)
            with self.writer.as_default():
                for path, rate in rates.items():
                    tf.summary.scalar(f"learning_rate/{path}", rate, step=epoch)
            self.writer.flush()

        def on_train_end(self, logs=None):
            if self.writer is not None:
                self.writer.close()

    board = keras.callbacks.TensorBoard(str(folder), write_graph=False, profile_batch=0)
    return [board, EffectiveLearningRates()]


def write_scalars(log_dir, run: str, scalars: dict) -> None:
    """Writes series of numbers into TensorBoard (nothing when `log_dir` is `None`).

    For numbers a recipe computes outside `model.fit`, such as an active-learning curve
    (test accuracy against the number of labels).

    Args:
        log_dir: the recipe's `--tensorboard` folder, or `None`.
        run: the run's sub-folder.
        scalars: `{tag: [(step, value), ...]}`.

    Example:

    >>> import tempfile
    >>> import kerastricks as kt
    >>> kt.recipe_utils.write_scalars(tempfile.mkdtemp(), "curve", {"accuracy": [(20, 0.5)]})
    """
    if log_dir is None:
        return
    import tensorflow as tf

    writer = tf.summary.create_file_writer(str(Path(log_dir) / run))
    with writer.as_default():
        for tag, series in scalars.items():
            for step, value in series:
                tf.summary.scalar(tag, float(value), step=int(step))
    writer.close()


def images_to_tensorboard(log_dir, output: Path, images) -> None:
    """Writes PNGs (file names relative to `output`) as image summaries into `report/`."""
    import numpy as np
    import tensorflow as tf
    from matplotlib import image as mpimg

    writer = tf.summary.create_file_writer(str(Path(log_dir) / "report"))
    with writer.as_default():
        for image in images:
            pixels = mpimg.imread(output / image)  # PNG: floats in [0, 1], RGB or RGBA
            if pixels.ndim == 2:
                pixels = np.stack([pixels] * 3, axis=-1)
            tf.summary.image(Path(image).stem, pixels[None, ..., :3], step=0)
    writer.close()
