"""kt.export: SavedModel serving signature, reload checks, `.keras` round trip."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerastricks as kt
from tests.helpers import input_layer_names


def two_input_model(seed=0):
    """Dict inputs, dropout and batch norm (training and inference differ), three heads."""
    keras.utils.set_random_seed(seed)
    image = keras.Input((4,), name="image")
    meta = keras.Input((2,), name="meta")
    x = keras.layers.Concatenate()([image, meta])
    x = keras.layers.Dense(8, activation="relu", name="trunk")(x)
    x = keras.layers.BatchNormalization(name="norm")(x)
    x = keras.layers.Dropout(0.5)(x)
    outputs = {
        "depth": keras.layers.Dense(1, name="depth_head")(x),
        "label": keras.layers.Dense(3, activation="softmax", name="label_head")(x),
        "auxiliary": keras.layers.Dense(5, name="auxiliary_head")(x),
    }
    return keras.Model({"image": image, "meta": meta}, outputs)


def sample(batch=4, seed=1):
    rng = np.random.default_rng(seed)
    return {
        "image": rng.normal(size=(batch, 4)).astype("float32"),
        "meta": rng.normal(size=(batch, 2)).astype("float32"),
    }


def fit_briefly(model):
    model.compile(
        optimizer=kt.optimizers.LearningRateMultiplier(
            "adam", lr_multiplier={"trunk": 0.1}, learning_rate=0.01
        ),
        loss={"depth": "mse", "label": "sparse_categorical_crossentropy", "auxiliary": "mse"},
    )
    x = sample(16, seed=2)
    y = {"depth": np.ones((16, 1)), "label": np.arange(16) % 3, "auxiliary": np.zeros((16, 5))}
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)  # moves the batch-norm statistics


def multi_task_model():
    """kerastricks layers: two task branches joined by CrossStitch, uncertainty weighting."""
    keras.utils.set_random_seed(0)
    image = keras.Input((4,), name="image")
    a = keras.layers.Dense(6, activation="relu", name="branch_a")(image)
    b = keras.layers.Dense(6, activation="relu", name="branch_b")(image)
    a, b = kt.layers.CrossStitch(self_weight=0.8, name="stitch")([a, b])
    outputs = {
        "depth": keras.layers.Dense(1, name="depth_head")(a),
        "label": keras.layers.Dense(3, activation="softmax", name="label_head")(b),
    }
    model = kt.models.MultiTaskModel(image, outputs, weighting="uncertainty")
    model.compile(
        optimizer="adam", loss={"depth": "mse", "label": "sparse_categorical_crossentropy"}
    )
    x = np.random.default_rng(3).normal(size=(16, 4)).astype("float32")
    model.fit(x, {"depth": x[:, :1], "label": np.arange(16) % 3}, batch_size=8, verbose=0)
    return model, x[:5]


@pytest.mark.parametrize("policy", ["float32", "mixed_float16"])
def test_multi_task_model_with_kerastricks_layers(tmp_path, policy):
    # The policy stays set while reloading too: Keras rebuilds the loss-scale optimizer of a
    # mixed-precision `.keras` file only under a mixed global policy.
    keras.config.set_dtype_policy(policy)
    try:
        model, x = multi_task_model()
        path = kt.export.export_saved_model(model, tmp_path / "sm")
        # Same computation in the same dtype: identical outputs in float32. In float16 the
        # served graph's kernels may round differently from eager ones (on a CPU with native
        # float16 the regression head differed by one float16 step and the softmax head by
        # two); check_saved_model's default tolerance for a float16 model admits that.
        differences = kt.export.check_saved_model(model, path, x)
        if policy == "float32":
            assert differences == {"depth": 0.0, "label": 0.0}
        loaded_model = kt.export.check_keras_round_trip(model, tmp_path / "model.keras", x)
    finally:
        keras.config.set_dtype_policy("float32")
    assert isinstance(loaded_model, kt.models.MultiTaskModel)
    loaded = tf.saved_model.load(str(path))
    signature = loaded.signatures["serving_default"]
    assert signature.structured_input_signature[1]["image"].dtype == tf.float32
    assert {s.dtype for s in signature.structured_outputs.values()} == {tf.float32}
    names = {v.name for v in loaded.variables}
    assert any(n.startswith("stitch/") for n in names)
    # The learned task uncertainties only weigh the training loss: not served.
    assert not any("uncertainty" in n or "log_variance" in n for n in names), names


def test_serving_signature_names_inputs_and_chosen_outputs(tmp_path):
    model = two_input_model()
    fit_briefly(model)
    path = kt.export.export_saved_model(model, tmp_path / "sm", outputs=["depth", "label"])
    differences = kt.export.check_saved_model(model, path, sample(), outputs=["depth", "label"])
    assert differences == {"depth": 0.0, "label": 0.0}  # same graph, same float32 kernels

    signature = tf.saved_model.load(str(path)).signatures["serving_default"]
    inputs = signature.structured_input_signature[1]
    assert {n: (s.dtype, tuple(s.shape)) for n, s in inputs.items()} == {
        "image": (tf.float32, (None, 4)),
        "meta": (tf.float32, (None, 2)),
    }
    assert sorted(signature.structured_outputs) == ["depth", "label"]
    # Inference mode: dropout off, moving statistics of batch norm (not the batch's).
    served = signature(**{n: tf.constant(v) for n, v in sample().items()})
    expected = model(sample(), training=False)
    np.testing.assert_array_equal(served["label"].numpy(), expected["label"].numpy())


def test_left_out_heads_and_training_state_are_not_exported(tmp_path):
    model = two_input_model()
    fit_briefly(model)
    path = kt.export.export_saved_model(model, tmp_path / "sm", outputs=["depth"])
    names = {v.name for v in tf.saved_model.load(str(path)).variables}
    assert any(n.startswith("depth_head/") for n in names)
    assert not any(n.startswith(("auxiliary_head/", "label_head/")) for n in names), names
    # Exactly the served layers' weights (and dropout's seed state): no optimizer slots.
    served = [model.get_layer(n) for n in ("trunk", "norm", "depth_head")]
    expected = {f"{v.path}:0" for layer in served for v in layer.weights}
    assert {n for n in names if "seed_generator" not in n} == expected


def test_every_output_by_default(tmp_path):
    model = two_input_model()
    path = kt.export.export_saved_model(model, tmp_path / "sm")
    assert kt.export.check_saved_model(model, path, sample()).keys() == {
        "auxiliary",
        "depth",
        "label",
    }


def test_mixed_float16_serves_float32(tmp_path):
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = two_input_model()
        fit_briefly(model)
    finally:
        keras.config.set_dtype_policy("float32")
    assert model.get_layer("trunk").compute_dtype == "float16"
    path = kt.export.export_saved_model(model, tmp_path / "sm", outputs=["depth", "label"])
    signature = tf.saved_model.load(str(path)).signatures["serving_default"]
    assert {s.dtype for s in signature.structured_input_signature[1].values()} == {tf.float32}
    assert {s.dtype for s in signature.structured_outputs.values()} == {tf.float32}
    # The SavedModel computes in float16 like the model: identical after the cast.
    differences = kt.export.check_saved_model(model, path, sample(), outputs=["depth", "label"])
    assert differences == {"depth": 0.0, "label": 0.0}


def test_sequential_and_list_inputs_get_names(tmp_path):
    sequential = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="logits")])
    path = kt.export.export_saved_model(sequential, tmp_path / "seq")
    assert kt.export.check_saved_model(sequential, path, np.ones((2, 3), "float32")) == {
        "logits": 0.0
    }
    a, b = keras.Input((2,), name="left"), keras.Input((2,), name="right")
    merged = keras.layers.Add()([a, b])
    model = keras.Model([a, b], [keras.layers.Dense(1, name="sum")(merged), merged])
    path = kt.export.export_saved_model(model, tmp_path / "list")
    signature = tf.saved_model.load(str(path)).signatures["serving_default"]
    assert sorted(signature.structured_input_signature[1]) == ["left", "right"]
    assert sorted(signature.structured_outputs) == sorted(model.output_names)
    rng = np.random.default_rng(0)
    pair = [rng.normal(size=(3, 2)).astype("float32") for _ in range(2)]
    assert set(kt.export.check_saved_model(model, path, pair).values()) == {0.0}


def test_integer_inputs_keep_their_dtype(tmp_path):
    tokens = keras.Input((5,), dtype="int32", name="tokens")
    pooled = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(10, 4)(tokens))
    model = keras.Model(tokens, keras.layers.Dense(1, name="score")(pooled))
    path = kt.export.export_saved_model(model, tmp_path / "sm")
    signature = tf.saved_model.load(str(path)).signatures["serving_default"]
    assert signature.structured_input_signature[1]["tokens"].dtype == tf.int32
    ids = np.arange(10, dtype="int32").reshape(2, 5)
    assert kt.export.check_saved_model(model, path, ids) == {"score": 0.0}


@pytest.mark.parametrize(
    "policy, eps, tolerance",
    [
        ("float32", 2.0**-23, 1e-6),
        ("mixed_float16", 2.0**-10, 2.0**-9),
        ("mixed_bfloat16", 2.0**-7, 2.0**-6),
    ],
)
def test_default_tolerance_follows_the_compute_dtype(tmp_path, policy, eps, tolerance):
    # A unit weight and input 1 serve exactly 1.0. Moving the model's weight by k steps
    # of its compute dtype at 1 (machine epsilon eps) makes its output 1 + k eps, exactly
    # representable, against the SavedModel's 1.0: a difference of k eps, in closed form.
    # allclose admits |difference| <= atol + rtol |1 + k eps|; with atol = rtol = tolerance
    # (1e-6 in float32, two steps 2 eps in reduced precision) that holds up to k = 16.8 in
    # float32 and k = 4 in reduced precision: k = 12 and 3 pass, k = 24 and 5 fail.
    model = keras.Sequential(
        [keras.Input((1,), name="x"), keras.layers.Dense(1, use_bias=False, name="y", dtype=policy)]
    )
    dense = model.get_layer("y")
    dense.set_weights([np.ones((1, 1), "float32")])
    path = kt.export.export_saved_model(model, tmp_path / "sm")
    x = np.ones((1, 1), "float32")

    def check_moved_by(steps, **tolerances):
        dense.set_weights([np.full((1, 1), 1.0 + steps * eps, "float32")])
        return kt.export.check_saved_model(model, path, x, **tolerances)

    passing, failing = (12, 24) if policy == "float32" else (3, 5)
    assert check_moved_by(passing) == {"y": passing * eps}
    assert check_moved_by(failing, atol=tolerance, rtol=2 * tolerance) == {"y": failing * eps}
    with pytest.raises(AssertionError, match=f"atol={tolerance}, rtol={tolerance}"):
        check_moved_by(failing)
    with pytest.raises(AssertionError, match=r"atol=0.0, rtol=0.0"):
        check_moved_by(1, atol=0.0, rtol=0.0)


def test_check_saved_model_catches_a_different_model(tmp_path):
    model = two_input_model()
    path = kt.export.export_saved_model(model, tmp_path / "sm")
    trunk = model.get_layer("trunk")
    trunk.set_weights([w + 1.0 for w in trunk.get_weights()])
    with pytest.raises(AssertionError, match="differs from the model's"):
        kt.export.check_saved_model(model, path, sample())
    with pytest.raises(AssertionError, match="serves outputs"):
        kt.export.check_saved_model(model, path, sample(), outputs=["depth"])


def test_keras_round_trip_with_safe_mode(tmp_path):
    model = two_input_model()
    fit_briefly(model)
    loaded = kt.export.check_keras_round_trip(model, tmp_path / "model.keras", sample())
    assert isinstance(loaded.optimizer, kt.optimizers.LearningRateMultiplier)
    assert loaded.optimizer.lr_multiplier == {"trunk": 0.1}


def test_bad_arguments():
    model = two_input_model()
    with pytest.raises(ValueError, match=r"distinct outputs among .*Received: outputs=\['dpth'\]"):
        kt.export.export_saved_model(model, "unused", outputs=["dpth"])
    with pytest.raises(ValueError, match="distinct outputs"):
        kt.export.export_saved_model(model, "unused", outputs=["depth", "depth"])
    with pytest.raises(TypeError, match="list of output names"):
        kt.export.export_saved_model(model, "unused", outputs="depth")
    with pytest.raises(TypeError, match="must be a keras.Model"):
        kt.export.export_saved_model(object(), "unused")

    class Subclassed(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(ValueError, match="model.export"):
        kt.export.export_saved_model(Subclassed(), "unused")
    with pytest.raises(ValueError, match=r"must have the inputs"):
        kt.export.check_saved_model(model, "unused", {"image": np.ones((1, 4))})
    with pytest.raises(ValueError, match=r"end in `.keras`"):
        kt.export.check_keras_round_trip(model, "model.h5", sample())
    with pytest.raises(ValueError, match="atol"):
        kt.export.check_saved_model(model, "unused", sample(), atol=-1.0)


def test_unnamed_sequential_input_keeps_its_name_through_a_keras_file(tmp_path):
    # A Sequential model's input tensor gets a fresh name in every process; the serving
    # signature uses its InputLayer's name, which the .keras file keeps.
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="logits")])
    (layer_name,) = input_layer_names(model)
    assert layer_name.startswith("input_layer")
    x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    loaded = kt.export.check_keras_round_trip(model, tmp_path / "m.keras", x)
    for which, source in (("a", model), ("b", loaded)):
        path = kt.export.export_saved_model(source, tmp_path / which)
        signature = tf.saved_model.load(str(path)).signatures["serving_default"]
        assert list(signature.structured_input_signature[1]) == [layer_name]
        served = signature(**{layer_name: tf.constant(x)})["logits"].numpy()
        np.testing.assert_allclose(
            served, x @ model.layers[-1].kernel.numpy() + model.layers[-1].bias.numpy(), rtol=1e-5
        )
