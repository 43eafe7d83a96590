"""Unsupervised depth and ego-motion from monocular video (vid2depth), with its loss ablation.

What it shows: a disparity network and an ego-motion network that learn from plain video,
with no depth or pose labels, by teaching each other through view synthesis. Each
three-frame window `(t-1, t, t+1)` gives four warps per scale (each neighbour into the
middle frame and back) with `kt.geometry.projective_inverse_warp`; the losses are the
masked L1 reconstruction, SSIM, edge-aware depth smoothness and the 3-D ICP alignment
loss of the paper, each with a weight flag, and `--variants` trains the ablations of the
paper's Table 2 (no ICP, no SSIM, no principled masks) in one command, from the same
initial weights and data order. The video is
`kt.datasets.synthetic_driving`: a static textured street with exact depth and poses, so
the depth metrics (Abs Rel ... delta < 1.25^3, median scaling, 80 m cap) and the
trajectory error on 3-frame snippets are measured on held-out streets, against the
"train-set mean depth" baseline. In the training step the networks run as TensorFlow's
own kernels and the losses' forward and backward pass as one XLA-compiled function.

Paper: Mahjourian, Wicke & Angelova, "Unsupervised Learning of Depth and Ego-Motion from
Monocular Video Using 3D Geometric Constraints" (CVPR 2018); KITTI Abs Rel 0.163 with all
losses, 0.175 without ICP, 0.183 without SSIM, 0.176 without principled masks.

Run (the model to ship: all losses at 64x192, 2,000 steps and the pose refit's 1,000; about
23 minutes on 2 CPU cores):

    nice -n 5 python recipes/vid2depth.py --output out/vid2depth

The paper's ablation (four variants, each from the same start; docs/vid2depth.md has it at
64x192 and at 32x96): `--variants all no_icp no_ssim no_masks`, about four times the
default's time (`--image-size 32 96`: about 31 minutes); a quick check: `--quick`. Your
own video: `--data DIR`, windows prepared by SfMLearner's or vid2depth's scripts (KITTI,
Cityscapes, ...), and `--eval-images LIST --eval-depth NPY` to score depth on your ground
truth (docs/vid2depth.md, "Your own data"). Monodepth2's options (`--upsample`,
`--min-reprojection`, `--automask`; `--mirror`, on by default), SC-SfMLearner's
`--consistency-weight`, a photometric loss without each warp's worst pixels (`--trim`),
the pose network's normalisation, learning rate and input (`--pose-norm`,
`--pose-lr-multiplier`, `--pose-input pairs`: Monodepth2's), the car's motion on flat
ground (`--planar-motion`, on by default: no climb, pitch or roll), the second pose
network fitted on the frozen depth after training (`--pose-refit-steps`, 1,000 by
default; 0 ships the jointly trained one), the test-time refinement of the speeds
(`--refine-steps`, 50 by default, `--refine-keep`), the training windows'
`--frame-steps` (steps 1 and 2 by default), the disparity's `--depth-range` and
`--spacing`, the coarse scales'
`--scale-disparity`, and the oracles that replace one network by the ground truth
(`--oracle-pose`, `--oracle-depth`) are flags; docs/vid2depth.md has what each measured.
Time on a laptop CPU: see docs/vid2depth.md (the full run was measured on a shared 2-core
machine).
"""

import argparse
import sys
import time
from pathlib import Path

import keras
import matplotlib
import numpy as np
import tensorflow as tf
from keras import layers, ops

import kerastricks as kt
from kerastricks.datasets import (  # for build_parser: no TensorFlow
    check_depth_maps,
    check_image_list,
    check_sfm_sequences,
)

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

VARIANTS = {  # name: what it switches off
    "all": {},
    "no_icp": {"icp": 0.0},
    "no_ssim": {"ssim": 0.0},
    "no_masks": {"masks": False},
}
PAPER = {"all": 0.163, "no_icp": 0.175, "no_ssim": 0.183, "no_masks": 0.176}
METRICS = ("abs_rel", "sq_rel", "rmse", "rmse_log", "delta_1", "delta_2", "delta_3")
RANGES = (1.0, 2.0, 5.0, 10.0, 20.0)  # metres: the bounds of the Abs Rel by depth range
MAX_DEPTH = 80.0  # metres: the evaluation cap (SfMLearner, Eigen split); farther is not counted
# Training windows (t-s, t, t+s) of the synthetic videos for these steps s (--frame-steps):
# step 2 doubles the motion of far pixels (docs/vid2depth.md, "Making it learn", rows 25-29).
FRAME_STEPS = (1, 2)


# --- Models ------------------------------------------------------------------------------


def conv(x, filters, kernel=3, strides=1, norm="batch"):
    """Convolution, normalisation, ReLU. `norm`: "batch" (vid2depth has no batch
    normalisation; with it both networks learn in the few hundred steps a CPU affords),
    "group" (`GroupNormalization` of 8 groups: per example, so a pose does not depend on
    the other windows of its batch) or "none" (convolution with biases, then ReLU)."""
    x = layers.Conv2D(filters, kernel, strides, padding="same", use_bias=norm == "none")(x)
    if norm == "batch":
        x = layers.BatchNormalization()(x)
    elif norm == "group":
        x = layers.GroupNormalization(groups=8)(x)
    elif norm != "none":
        raise ValueError(f'norm must be "batch", "group" or "none", got {norm!r}')
    return layers.ReLU()(x)


def disparity_network(
    height, width, base=16, num_scales=4, depth_range=(0.01, 100.0), spacing="linear"
):
    """Encoder-decoder with skip connections; disparities at 4 scales, finest first.

    As vid2depth's DispNet: each decoder level sees the encoder's features of its size
    and the upsampled coarser disparity; disparity = `1/max + (1/min - 1/max) sigmoid`
    for `depth_range = (min, max)`: `99.99 sigmoid + 0.01` by default. vid2depth's
    `10 sigmoid + 0.01` (Monodepth2's range, `(0.1, 100)`) pinned the near pixels at its
    floor when ICP shrinks the depths (docs/vid2depth.md, "Making it learn", row 12).
    `spacing="log"`: log disparity = `log(1/max) + log(max/min) sigmoid` instead, so that
    a step of the sigmoid changes depth by the same ratio at every depth (linear spacing
    puts a depth 100x the minimum at sigmoid 0.01, where its gradient is 100x smaller).
    """
    low, high = 1.0 / depth_range[1], 1.0 / depth_range[0]
    if spacing == "log":
        low, high = float(np.log(low)), float(np.log(high))
    image = keras.Input((height, width, 3), name="image")
    x, skips = image, [image]
    channels = [base, 2 * base, 4 * base, 8 * base]
    for level, filters in enumerate(channels):
        x = conv(conv(x, filters, 5 if level < 2 else 3, strides=2), filters)
        skips.append(x)
    disparities, disparity = [], None
    for level in reversed(range(len(channels))):
        filters = channels[level - 1] if level else base
        x = conv(layers.UpSampling2D(2)(x), filters)
        parts = [x, skips[level]]
        if disparity is not None:
            parts.append(layers.UpSampling2D(2, interpolation="bilinear")(disparity))
        x = conv(layers.Concatenate()(parts), filters)
        if level < num_scales:
            # The heads in float32 under mixed precision (Keras's advice for outputs): a
            # float16 disparity near 100 has steps of 0.0625.
            head = layers.Conv2D(1, 3, padding="same", activation="sigmoid", dtype="float32")
            disparity = head(x)
            name = f"disparity_{level}"
            if spacing == "log":
                disparity = layers.Rescaling(high - low, offset=low, dtype="float32")(disparity)
                disparity = layers.Activation("exponential", name=name, dtype="float32")(disparity)
            else:
                disparity = layers.Rescaling(high - low, offset=low, name=name, dtype="float32")(
                    disparity
                )
            disparities.append(disparity)
    return keras.Model(image, disparities[::-1], name="disparity_net")


def pose_network(height, width, base=16, scale=0.01, norm="batch", pairs=False, planar=False):
    """Strided convolutions on the stacked window; a 6-DoF pose per source frame.

    Output `[B, 2, 6]` = `(tx, ty, tz, rx, ry, rz)` mapping the middle (target) frame into
    frames t-1 and t+1; multiplied by `scale` at the output (0.01 in SfMLearner).
    `norm`: as `conv`'s; "none" is SfMLearner's pose network (docs/vid2depth.md, rows
    45-51). `pairs`: Monodepth2's pose input, one network of two frames in temporal order
    (t-1 and t, then t and t+1), the same weights for both, so that each translation is
    read from its own pair of frames and both pairs show the forward motion; the first
    pair's pose (frame t-1 into t) is inverted exactly into the middle frame's.
    `planar`: a camera that moves on a flat ground and turns about the vertical only (a
    car's, rows 68-69): `ty`, `rx` and `rz` are zero, the network predicts the other three.
    """
    frames = keras.Input((height, width, 9), name="frames")
    # The output in float32 under mixed precision, as Keras advises (float16 poses keep
    # three significant digits).
    poses = layers.Reshape((2, 6), name="poses", dtype="float32")
    if not pairs:
        x = layers.Rescaling(scale)(pose_features(frames, base, norm, 12))
        return keras.Model(frames, poses(planar_only(x, planar)), name="pose_net")
    pair = keras.Input((height, width, 6), name="pair")
    body = layers.Rescaling(scale)(pose_features(pair, base, norm, 6))
    encoder = keras.Model(pair, planar_only(body, planar), name="pair_pose")
    # In float32 under mixed precision: the inversion goes through sines and arcsines.
    earlier = ops.cast(encoder(frames[..., :6]), "float32")  # frame t-1 into frame t
    later = ops.cast(encoder(frames[..., 3:]), "float32")  # frame t into frame t+1
    earlier = kt.geometry.matrix_to_pose_vec(rigid_inverse(kt.geometry.pose_vec_to_matrix(earlier)))
    x = layers.Concatenate(dtype="float32")([earlier, later])
    return keras.Model(frames, poses(x), name="pose_net")


# The parts of a pose vector `(tx, ty, tz, rx, ry, rz)` a car on flat ground moves in.
PLANAR = np.array([1, 0, 1, 0, 1, 0], "float32")


def planar_only(vectors, planar):
    """`vectors` (`[B, 6k]` pose vectors) with `ty`, `rx`, `rz` zeroed when `planar`, in
    float32; `vectors` as they are otherwise."""
    if not planar:
        return vectors
    return ops.multiply(ops.cast(vectors, "float32"), np.tile(PLANAR, vectors.shape[-1] // 6))


def pose_features(x, base, norm, outputs):
    """The pose network's body: six strided convolutions, `outputs` channels averaged."""
    for level, filters in enumerate([base, 2 * base, 4 * base, 8 * base, 8 * base, 8 * base]):
        x = conv(x, filters, (7, 5, 3, 3, 3, 3)[level], strides=2, norm=norm)
    return layers.GlobalAveragePooling2D()(layers.Conv2D(outputs, 1)(x))


def stack_window(images):
    """`[B, 3, H, W, 3]` windows -> `[B, H, W, 9]`, the pose network's input."""
    return ops.concatenate([images[:, k] for k in range(3)], axis=-1)


def rigid_inverse(matrix):
    rotation_t = ops.transpose(matrix[:, :3, :3], (0, 2, 1))
    translation = -ops.matmul(rotation_t, matrix[:, :3, 3:])
    top = ops.concatenate([rotation_t, translation], axis=2)
    return ops.concatenate([top, matrix[:, 3:]], axis=1)


def move_points(points, matrix):
    """Applies `[B, 4, 4]` rigid transforms to `[B, N, 3]` points."""
    return ops.matmul(points, ops.transpose(matrix[:, :3, :3], (0, 2, 1))) + matrix[:, None, :3, 3]


def projected_depth(depth, matrix, intrinsics):
    """The depth each pixel's point (`depth` `[B, H, W, 1]`) has in the camera that the
    `[B, 4, 4]` transforms move it into: `(R Q + t)_z`."""
    height, width = depth.shape[1], depth.shape[2]
    points = ops.reshape(kt.geometry.pixel_to_camera(depth, intrinsics), (-1, height * width, 3))
    return ops.reshape(move_points(points, matrix)[..., 2], (-1, height, width, 1))


def photometric_terms(target, warped, mask):
    """vid2depth's masked L1 and DSSIM (3x3 box window) of each warp, `[B]` each."""
    return (
        kt.losses.masked_reconstruction(target, warped, mask=mask),
        kt.losses.dssim(target, warped, mask=mask, window="box", filter_size=3),
    )


def compiled_loss(loss_fn):
    """`loss_fn(outputs, *data) -> (total, terms)`, its value and gradient XLA-compiled together.

    For a step that is not compiled as a whole: on CPUs XLA's convolutions are slower
    than TensorFlow's own (oneDNN) kernels, and the warps, SSIM, smoothness and ICP 2-4x
    faster (docs/vid2depth.md, "Pitfalls"), so the networks run plain and the losses
    compiled. A `tf.function(jit_compile=True)` differentiated by the outer tape runs its
    backward pass apart from it (the losses' forward and backward at 64x192: 402 ms,
    against 223 ms compiled together and 505 ms plain); here one compiled function
    computes `total` and its gradient with respect to `outputs` (a list of floating
    tensors: the networks' outputs; `data` gets none), in float32, and
    `tf.custom_gradient` hands that gradient, times the outer tape's, back. Make it once
    and call it many times: it is traced and compiled once per input shape.
    """

    @tf.function(jit_compile=True)
    def value_and_gradients(outputs, *data):
        # In float32: under mixed precision the loss scale multiplies them before they are
        # rounded to float16, as in a plain backward pass.
        outputs = [tf.cast(output, "float32") for output in outputs]
        with tf.GradientTape() as tape:
            tape.watch(outputs)
            total, terms = loss_fn(outputs, *data)
        zero = tf.UnconnectedGradients.ZERO  # e.g. the disparities the depth oracle skips
        return total, terms, tape.gradient(total, outputs, unconnected_gradients=zero)

    def compiled(outputs, *data):
        @tf.custom_gradient
        def differentiable(*outputs):
            total, terms, gradients = value_and_gradients(outputs, *data)

            def backward(upstream, *_, variables=None):  # only `total` is differentiated
                scaled = [
                    ops.cast(ops.cast(upstream, "float32") * gradient, output.dtype)
                    for gradient, output in zip(gradients, outputs, strict=True)
                ]
                return (scaled, [None] * len(variables)) if variables else scaled

            return (total, terms), backward

        return differentiable(*outputs)

    return compiled


class Vid2Depth(keras.Model):
    """Both networks and the vid2depth losses in one `train_step` (its losses compiled).

    The loss weights and the principled-mask switch are non-trainable variables, not
    Python constants, so that one compiled step serves every ablation (`set_variant`).
    `options` hold what is fixed for a run: `upsample` (warp every scale's disparity at
    the input resolution, Monodepth2), `scale_disparity` (`"own"`: each scale's losses
    use its own decoder head's disparity, vid2depth; `"finest"`: the finest disparity,
    area-downsampled to the scale), `minimum` (Monodepth2's per-pixel minimum
    reprojection over the two neighbours instead of vid2depth's four averaged warps),
    `automask` (with `minimum`: drop pixels that the unwarped neighbours explain better),
    `consistency` (SC-SfMLearner's depth consistency and self-discovered mask) and `trim`
    (the share of each warp's worst pixels left out of its photometric mean).
    """

    def __init__(self, disparity_net, pose_net, icp, options, **kwargs):
        super().__init__(**kwargs)
        self.disparity_net, self.pose_net, self.icp = disparity_net, pose_net, icp
        self.options = options
        self.compiled_terms = compiled_loss(self.loss_terms)  # compiled at its first call
        self.switches = {
            name: self.add_weight(name=name, shape=(), initializer="ones", trainable=False)
            for name in ("reconstruction", "ssim", "smoothness", "icp", "consistency", "masks")
        }
        names = ("loss", "photometric", "smoothness", "icp", "consistency")
        self.trackers = {name: keras.metrics.Mean(name=name) for name in names}
        self.built = True  # both networks are built

    def set_variant(self, weights, use_masks):
        """Sets the loss weights (`{term: weight}`) and whether the principled masks apply."""
        for name, weight in weights.items():
            self.switches[name].assign(weight)
        self.switches["masks"].assign(1.0 if use_masks else 0.0)

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, inputs, training=False):
        """`{"images": [B, 3, H, W, 3], ...}` -> (disparities of all frames per scale, poses)."""
        images = inputs["images"] if isinstance(inputs, dict) else inputs
        height, width = images.shape[2], images.shape[3]
        flat = ops.reshape(images, (-1, height, width, 3))  # frames t-1, t, t+1 of each window
        # A list of scales, finest first (flatten: a one-scale network returns a tensor).
        disparities = keras.tree.flatten(self.disparity_net(flat, training=training))
        return disparities, self.pose_net(stack_window(images), training=training)

    def compute_losses(self, images, intrinsics, poses=None, depth=None):
        """The weighted total and each term (photometric, smoothness, ICP) summed over scales.

        `poses` (`[B, 2, 4, 4]`) or `depth` (`[B, 3, H, W, 1]`, 0 = unknown): the ground
        truth in place of the pose or the disparity network (`--oracle-pose`,
        `--oracle-depth`; with true depth only the finest scale is used).
        """
        disparities, predicted = self(images, training=True)
        terms = self.compiled_terms if self.options["compiled_losses"] else self.loss_terms
        return terms([*disparities, predicted], images, intrinsics, poses, depth)

    def loss_terms(self, outputs, images, intrinsics, poses=None, depth=None):
        """`compute_losses` after the two networks: warps, masks and losses of every scale.

        `outputs`: the networks' outputs, the disparities of every scale, then the poses.
        """
        disparities, predicted = outputs[:-1], outputs[-1]
        batch, height, width = ops.shape(images)[0], images.shape[2], images.shape[3]
        if poses is None:
            poses = [
                kt.geometry.pose_vec_to_matrix(ops.cast(predicted[:, k], "float32")) for k in (0, 1)
            ]
        else:
            poses = [ops.cast(poses[:, k], "float32") for k in (0, 1)]
        if depth is not None:
            disparities = disparities[:1]
        terms = dict.fromkeys(("photometric", "smoothness", "icp", "consistency"), 0.0)
        flat = ops.reshape(images, (-1, height, width, 3))
        pyramid = flat
        for scale, disparity in enumerate(disparities):
            if scale:
                pyramid = ops.average_pool(pyramid, 2, 2)
            disparity = ops.cast(disparity, "float32")
            if scale and self.options["scale_disparity"] == "finest":
                # The finest disparity area-downsampled: each coarse comparison's gradient
                # reaches the finest head directly (docs/vid2depth.md, row 56).
                finest = ops.cast(disparities[0], "float32")
                disparity = ops.average_pool(finest, 2**scale, 2**scale)
            smoothness = kt.losses.depth_smoothness(pyramid, disparity, normalize=True)
            terms["smoothness"] += ops.mean(smoothness) / (2**scale)
            frames = pyramid
            k = kt.geometry.scale_intrinsics(intrinsics, 0.5**scale, 0.5**scale)
            if self.options["upsample"]:  # Monodepth2: warp and compare at the input size
                disparity = ops.image.resize(disparity, (height, width), interpolation="bilinear")
                frames, k = flat, intrinsics
            h, w = disparity.shape[1], disparity.shape[2]
            frames = ops.reshape(frames, (batch, 3, h, w, 3))
            if depth is None:
                frame_depth = ops.reshape(1.0 / disparity, (batch, 3, h, w, 1))
            else:
                frame_depth = ops.cast(depth, "float32")
            photometric, icp, consistency = self.scale_losses(frames, frame_depth, poses, k, scale)
            terms["photometric"] += photometric
            terms["icp"] += icp / (2**scale)
            terms["consistency"] += consistency
        total = (
            terms["photometric"]
            + self.switches["smoothness"] * terms["smoothness"]
            + self.switches["icp"] * terms["icp"]
            + self.switches["consistency"] * terms["consistency"]
        )
        terms = {name: ops.convert_to_tensor(value, "float32") for name, value in terms.items()}
        return total, terms

    def scale_losses(self, frames, depth, poses, intrinsics, scale):
        """Photometric, ICP and depth-consistency losses of one scale (`frames`
        `[B, 3, h, w, 3]`, `depth` `[.., 1]`).

        vid2depth: four warps (each neighbour into the middle frame and the middle frame
        into each neighbour, with the inverted pose), masked L1 and SSIM averaged over
        them. `minimum`: the two neighbours into the middle frame, the per-pixel minimum.
        `consistency` (SC-SfMLearner): each warp also carries the source frame's depth,
        compared with the depth the target's points have in the source camera
        (`kt.losses.depth_consistency`), and `1 - depth_difference` weights the
        photometric terms (its self-discovered mask).
        """
        to_previous, to_next = poses
        if self.options["minimum"]:
            targets, sources, pose = (1, 1), (0, 2), ops.concatenate(poses, axis=0)
        else:
            targets, sources = (1, 1, 0, 2), (0, 2, 1, 1)
            pose = ops.concatenate(
                [to_previous, to_next, rigid_inverse(to_previous), rigid_inverse(to_next)], axis=0
            )

        def gather(tensor, indices):
            return ops.concatenate([tensor[:, i] for i in indices], axis=0)

        k = ops.concatenate([intrinsics] * len(targets), axis=0)
        target_frames, target_depth = gather(frames, targets), gather(depth, targets)
        source_frames = gather(frames, sources)
        consistency, with_depth = 0.0, self.options["consistency"]
        if with_depth:  # one warp carries the source's colours and its depth
            source_frames = ops.concatenate([source_frames, gather(depth, sources)], axis=-1)
        warped, mask = kt.geometry.projective_inverse_warp(source_frames, target_depth, pose, k)
        use_masks = self.switches["masks"]
        mask = use_masks * mask + (1.0 - use_masks)  # all ones: the "no masks" ablation
        if with_depth:
            warped, sampled = warped[..., :3], warped[..., 3:]
            source_frames = source_frames[..., :3]
            projected = projected_depth(target_depth, pose, k)
            consistency = ops.mean(kt.losses.depth_consistency(projected, sampled, mask))
            difference = ops.stop_gradient(kt.losses.depth_difference(projected, sampled))
            mask = mask * (1.0 - use_masks * difference)  # the self-discovered mask
        weights = {
            "ssim_weight": self.switches["ssim"],
            "l1_weight": self.switches["reconstruction"],
        }
        if self.options["minimum"]:

            def per_source(x):  # [2B, h, w] -> [B, 2, h, w]
                return ops.transpose(ops.reshape(x, (2, -1) + tuple(x.shape[1:])), (1, 0, 2, 3))

            errors = kt.losses.photometric_error(target_frames, warped, **weights)
            identity = None
            if self.options["automask"]:
                identity = per_source(
                    kt.losses.photometric_error(target_frames, source_frames, **weights)
                )
            photometric = ops.mean(
                kt.losses.minimum_reprojection(
                    per_source(errors), per_source(mask[..., 0]), identity
                )
            )
        elif self.options["trim"]:  # each warp's per-pixel error without its worst pixels
            errors = kt.losses.photometric_error(target_frames, warped, **weights)
            photometric = ops.mean(kt.losses.trimmed_mean(errors, mask, self.options["trim"]))
        else:
            reconstruction, ssim = photometric_terms(target_frames, warped, mask)
            photometric = weights["l1_weight"] * ops.mean(reconstruction) + weights[
                "ssim_weight"
            ] * ops.mean(ssim)
        icp = 0.0
        if self.icp["iterations"]:
            stride = max(1, self.icp["stride"] >> scale)
            cloud = kt.geometry.depth_to_point_cloud(target_depth, k, stride)
            source_cloud = kt.geometry.depth_to_point_cloud(gather(depth, sources), k, stride)
            moved = move_points(cloud, pose)
            if self.icp["normalize"]:  # in units of the mean depth: scale-free
                unit = ops.stop_gradient(ops.mean(target_depth, axis=(1, 2, 3)))[:, None, None]
                moved, source_cloud = moved / unit, source_cloud / unit
            icp = ops.mean(
                kt.losses.icp_alignment(
                    source_cloud,
                    moved,
                    iterations=self.icp["iterations"],
                    num_samples=self.icp["points"],
                )
            )
        return photometric, icp, consistency

    def train_step(self, data):
        if isinstance(data, tuple):  # (x,) from train_on_batch
            data = data[0]
        # optimizer_step divides the loss by the number of replicas before differentiating
        # (their gradients are summed) and scales it for mixed precision: copy it, not a tape.
        total, terms = kt.distribute.optimizer_step(self, lambda: self.compute_losses(**data))
        self.trackers["loss"].update_state(total)
        for name, value in terms.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}


# --- Data ------------------------------------------------------------------------------


def make_data(args):
    """Training windows of each `--frame-steps` step (the same streets), the step-1
    training windows (the baselines' reference) and the held-out step-1 windows."""
    steps = tuple(args.frame_steps or FRAME_STEPS)
    size = tuple(args.image_size)
    rendered = kt.datasets.synthetic_driving(  # one rendering; step 1 for the baselines
        args.train_sequences,
        args.sequence_length,
        size,
        seed=args.seed,
        frame_step=steps if 1 in steps else (*steps, 1),
    )
    train = select_windows(rendered, rendered["frame_step"] == 1)
    windows = select_windows(rendered, np.isin(rendered["frame_step"], steps))
    test = kt.datasets.synthetic_driving(
        args.test_sequences, args.sequence_length, size, seed=args.seed + 10_000
    )
    return windows, train, test


def select_windows(data, keep):
    """The windows where the boolean array `keep` is true."""
    return {key: value[keep] for key, value in data.items()}


def training_inputs(data, args):
    """The training inputs: frames and intrinsics only (no labels), but for the oracles."""
    inputs = {"images": data["images"], "intrinsics": data["intrinsics"]}
    if args.oracle_pose:
        inputs["poses"] = data["poses"]
    if args.oracle_depth:
        inputs["depth"] = data["depth"]
    return inputs


def mirror_window(window):
    """The window seen in a left-right mirror: frames, intrinsics and, for the oracles, the
    true depth and poses (`P' = F P F`, `F = diag(-1, 1, 1, 1)`: the camera's x axis flips).

    Column `u` goes to `W - 1 - u`, so `K' = A K diag(-1, 1, 1)` with `A` that map:
    `fx, fy, cy` stay, `cx -> W - 1 - cx` and the skew changes sign.
    """
    width = window["images"].shape[2]
    mirrored = dict(window)
    mirrored["images"] = tf.reverse(window["images"], axis=[2])
    to_column = tf.constant([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    mirrored["intrinsics"] = to_column @ window["intrinsics"] @ tf.linalg.diag([-1.0, 1.0, 1.0])
    if "depth" in window:
        mirrored["depth"] = tf.reverse(window["depth"], axis=[2])
    if "poses" in window:
        flip = tf.linalg.diag([-1.0, 1.0, 1.0, 1.0])
        mirrored["poses"] = flip @ window["poses"] @ flip
    return mirrored


def training_dataset(inputs, global_batch, seed, mirror=False):
    """Shuffled, repeated batches; `mirror`: each window mirrored left-right with
    probability 1/2 (Monodepth2's augmentation; a mirrored street is as valid a street)."""
    dataset = tf.data.Dataset.from_tensor_slices(inputs)
    dataset = dataset.shuffle(len(inputs["images"]), seed=seed).repeat()
    if mirror:

        def mirror_if(window, coin):  # named: AutoGraph cannot read nested lambdas' source
            return tf.cond(coin, lambda: mirror_window(window), lambda: window)

        coins = tf.data.Dataset.random(seed=seed).map(lambda x: x % 2 == 0)
        dataset = tf.data.Dataset.zip(dataset, coins).map(mirror_if)
    return dataset.batch(global_batch, drop_remainder=True).prefetch(2)


# --- Evaluation ------------------------------------------------------------------------------


def mean_depth_baseline(train):
    """The train-set mean depth, per pixel, over the frames where it is known."""
    depth = train["depth"][:, 1, ..., 0]
    known = (depth > 0).sum(axis=0)
    mean = np.where(known > 0, depth.sum(axis=0) / np.maximum(known, 1), depth[depth > 0].mean())
    return mean.astype(np.float32)


def depth_scores(true_depth, pred_depth):
    result = kt.metrics.depth_metrics(true_depth, pred_depth, max_depth=MAX_DEPTH)
    keep = np.asarray(result["valid_pixels"]) > 0
    scores = {name: float(np.asarray(result[name])[keep].mean()) for name in METRICS}
    return {**scores, "depth_slope": depth_slope(true_depth, pred_depth)}


def depth_slope(true_depth, pred_depth):
    """How much of the truth's range of depths the prediction spans: per image, the
    least-squares slope of log predicted depth against log true depth (pixels of known
    depth below 80 m), the median over images. 1: the truth's range at any scale; below 1:
    compressed (the near pixels too far, the far ones too near); 0: one depth everywhere
    (docs/vid2depth.md, "Sixteenth session")."""
    slopes = []
    for true, pred in zip(true_depth, pred_depth):
        known = (true > 0) & (true < MAX_DEPTH)
        x, y = np.log(true[known]), np.log(pred[known])
        if x.size > 1 and x.var() > 0:
            slopes.append(np.mean((x - x.mean()) * (y - y.mean())) / x.var())
    return float(np.median(slopes)) if slopes else float("nan")


def at_depth_limits(depth, depth_range, margin=1.05):
    """The fraction of predicted pixels within 5 % of `--depth-range`'s ends.

    The scale of monocular depth is free, and it drifts: a network whose scale has sunk
    to the range's floor pins its near pixels there, and the median scaling of the
    evaluation cannot bring them back (docs/vid2depth.md, row 46). It happened with
    `--pose-norm none`; a wider `--depth-range` only let the scale sink further, and
    `--pose-scale` did not change the translations the network learns (rows 46-47).
    """
    low, high = depth_range
    return float(np.mean((depth <= low * margin) | (depth >= high / margin)))


def range_scores(true_depth, pred_depth):
    """Abs Rel by range of true depth (same scaling and cap as `depth_scores`), pooled.

    Per range: the mean share of an image's pixels, the mean contribution to an image's
    Abs Rel (they add up to the overall Abs Rel) and their ratio, the range's Abs Rel.
    """
    split = kt.metrics.abs_rel_by_range(true_depth, pred_depth, RANGES, max_depth=MAX_DEPTH)
    keep = np.asarray(split["pixels"]).sum(axis=1) > 0  # the ranges cover every counted pixel
    share = np.asarray(split["share"])[keep].mean(axis=0)
    contribution = np.asarray(split["contribution"])[keep].mean(axis=0)
    edges = ["0", *(f"{b:g}" for b in RANGES), "80"]
    return {
        f"{low}-{high} m": {
            "share": float(s),
            "abs_rel": float(c / s) if s > 0 else None,  # no pixel in range: null in JSON
            "contribution": float(c),
        }
        for low, high, s, c in zip(edges[:-1], edges[1:], share, contribution, strict=True)
    }


def range_table(by_range):
    """`{model: range_scores}` as Markdown: one row per range, Abs Rel (contribution)."""
    names = list(by_range)
    first = by_range[names[0]]

    def cell(scores):
        if scores["abs_rel"] is None:
            return "–"
        return f"{scores['abs_rel']:.3f} ({scores['contribution']:.3f})"

    rows = [
        [label, f"{first[label]['share']:.1%}"] + [cell(by_range[n][label]) for n in names]
        for label in first
    ]
    return kt.recipe_utils.markdown_table(["true depth", "pixels", *names], rows)


def trajectory_scores(true_poses, pred_poses):
    """3-frame ATE (mean, std) and its two parts (docs/vid2depth.md, "Fourteenth session:
    what the ATE is made of"): `direction_error`, the mean angle in degrees between each
    predicted translation and the true one, and `ratio_error`, the root mean square error
    of the speed ratio (the length of the translation to t+1 over that to t-1), which the
    ATE's scale fit leaves in; and `rotation_error`, the mean angle in degrees of the
    rotation between each predicted camera orientation and the true one."""
    true_poses, pred_poses = np.asarray(true_poses), np.asarray(pred_poses)
    true = kt.metrics.snippet_positions(true_poses, target_index=1)
    pred = kt.metrics.snippet_positions(pred_poses, target_index=1)
    errors = np.asarray(kt.metrics.trajectory_error(true, pred))
    true_t, pred_t = true_poses[..., :3, 3], pred_poses[..., :3, 3]
    true_length = np.linalg.norm(true_t, axis=-1)
    pred_length = np.linalg.norm(pred_t, axis=-1)
    cosine = np.sum(true_t * pred_t, axis=-1) / (true_length * pred_length)
    true_ratio = true_length[:, 1] / true_length[:, 0]
    pred_ratio = pred_length[:, 1] / pred_length[:, 0]
    relative = np.swapaxes(pred_poses[..., :3, :3], -1, -2) @ true_poses[..., :3, :3]
    cos_angle = (np.trace(relative, axis1=-2, axis2=-1) - 1.0) / 2.0
    return {
        "ate_mean": float(errors.mean()),
        "ate_std": float(errors.std()),
        "direction_error": float(np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))).mean()),
        "ratio_error": float(np.sqrt(np.mean((pred_ratio - true_ratio) ** 2))),
        "rotation_error": float(np.degrees(np.arccos(np.clip(cos_angle, -1.0, 1.0))).mean()),
    }


def predict(disparity_net, pose_net, test, batch_size=16):
    """The finest depth of each window's middle frame, `[N, H, W]`, and its two poses."""
    disparities = disparity_net.predict(test["images"][:, 1], batch_size=batch_size, verbose=0)
    disparity = keras.tree.flatten(disparities)[0]  # the finest scale
    stacked = np.asarray(stack_window(test["images"]))
    poses = pose_net.predict(stacked, batch_size=batch_size, verbose=0)
    matrices = np.stack(
        [np.asarray(kt.geometry.pose_vec_to_matrix(poses[:, k])) for k in (0, 1)], axis=1
    )
    return 1.0 / disparity[..., 0], matrices


@tf.function  # traced once per batch shape: the warp needs static H and W
def photometric_gradient(vectors, depth, images, intrinsics, weights):
    """Each window's photometric loss of frames t-1 and t+1 warped into frame t with
    `depth` (`[B, H, W, 1]`, frame t's) and the pose `vectors` (`[B, 2, 6]`), and its
    gradient with respect to the vectors; `weights`: (L1, SSIM) as in training."""
    with tf.GradientTape() as tape:
        tape.watch(vectors)
        loss = 0.0
        for k, source in enumerate((0, 2)):
            pose = kt.geometry.pose_vec_to_matrix(vectors[:, k])
            warped, mask = kt.geometry.projective_inverse_warp(
                images[:, source], depth, pose, intrinsics
            )
            reconstruction, ssim = photometric_terms(images[:, 1], warped, mask)
            loss += weights[0] * reconstruction + weights[1] * ssim
        total = ops.sum(loss)  # windows are independent: each gets its own gradient
    return loss, tape.gradient(total, vectors)


def refine_poses(
    windows, depth, poses, steps, weights, learning_rate=3e-3, batch_size=16, planar=False
):
    """The pose network's poses refined on each window by the photometric loss alone.

    Test-time refinement, as struct2depth's online refinement (Casser et al., AAAI 2019)
    but of the poses only: with the network's depth of the middle frame fixed, each
    window's two poses take `steps` Adam steps down the masked L1 + SSIM loss of its
    neighbours warped into the middle frame. The network gets the motion's direction
    wrong by about a degree, which this loss sees at 64x192 (docs/vid2depth.md, "Why the
    pose network loses to a constant"). Steps are in units of each pose's translation
    length and of 0.05 rad, so they do not depend on the depth's unknown scale. With the
    true depth it undoes a 4-degree tilt (the tests); with the network's depth, 100 steps
    left the ATE where it was (0.0224 -> 0.0231, seed 0, row 35). It corrects the speed
    ratio (`ratio_error`) but not the direction (rows 37, 63): `keep_lengths` takes the
    refined lengths onto the network's directions and rotations (rows 63, 69).
    `planar`: `ty`, `rx` and `rz` stay as they are (`--planar-motion`).

    Args:
        windows: `{"images": [N, 3, H, W, 3], "intrinsics": [N, 3, 3]}`.
        depth: the network's depth of the middle frames, `[N, H, W]`.
        poses: the network's poses, `[N, 2, 4, 4]` (middle frame into t-1 and t+1).
        steps: Adam steps per window.
        weights: the (L1, SSIM) weights of the loss.

    Returns:
        The refined poses, `[N, 2, 4, 4]`.
    """
    refined = []
    progress = keras.utils.Progbar(len(depth), unit_name="window")
    for start in range(0, len(depth), batch_size):
        part = slice(start, start + batch_size)
        vectors = np.asarray(kt.geometry.matrix_to_pose_vec(poses[part]), np.float32)
        length = np.linalg.norm(vectors[..., :3], axis=-1, keepdims=True)
        unit = np.concatenate([np.repeat(length, 3, -1), np.full_like(vectors[..., 3:], 0.05)], -1)
        if planar:  # the steps of the climb, the pitch and the roll are zero
            unit = unit * PLANAR
        delta = keras.Variable(np.zeros_like(vectors))
        optimizer = keras.optimizers.Adam(learning_rate)
        data = (
            np.asarray(depth[part], np.float32)[..., None],
            np.asarray(windows["images"][part], np.float32),
            np.asarray(windows["intrinsics"][part], np.float32),
            tf.constant(weights, tf.float32),
        )
        initial = ops.convert_to_tensor(vectors)
        for _ in range(steps):
            _, gradient = photometric_gradient(initial + unit * delta, *data)
            optimizer.apply([gradient * unit], [delta])
        refined.append(vectors + unit * np.asarray(delta))
        progress.add(len(vectors))
    return np.asarray(kt.geometry.pose_vec_to_matrix(np.concatenate(refined)))


def keep_lengths(poses, refined):
    """`poses` (`[..., 4, 4]`) with each translation stretched to the length of the
    matching translation of `refined`: the network's directions and rotations, the
    refinement's speeds."""
    kept = np.array(poses, copy=True)
    translation = kept[..., :3, 3]
    length = np.linalg.norm(np.asarray(refined)[..., :3, 3], axis=-1, keepdims=True)
    kept[..., :3, 3] = translation / np.linalg.norm(translation, axis=-1, keepdims=True) * length
    return kept


def warp_error(test, depth=None, poses=None):
    """Oracle check of the loss: masked L1 error of frame t-1 warped into frame t.

    Over the pixels of known true depth that the warp keeps, averaged per window, then
    over the windows (every pixel the warp keeps when `test` has no true depth);
    `depth=None`: no motion (frame t-1 compared as it is).
    """
    target, source = test["images"][:, 1], test["images"][:, 0]
    known = np.ones_like(target[..., :1])  # your own data (--data): no true depth
    if "depth" in test:
        known = (test["depth"][:, 1] > 0).astype(np.float32)
    if depth is None:
        warped, mask = source, known
    else:
        warped, mask = kt.geometry.projective_inverse_warp(
            source, depth[..., None], poses[:, 0], test["intrinsics"]
        )
        mask = np.asarray(mask) * known
    return float(np.mean(np.asarray(kt.losses.masked_reconstruction(target, warped, mask))))


def variant_scores(model, test, prediction, args, truth=None):
    """Depth and 3-frame ATE on the synthetic truth, and the ATE of the poses refined by
    `--refine-steps` (`refined_*`); on your own data, depth on `truth` (`{}` without
    it: depth not evaluated)."""
    if truth is not None:
        disparities = model.disparity_net.predict(truth["images"], batch_size=16, verbose=0)
        return ground_truth_scores(truth, 1.0 / keras.tree.flatten(disparities)[0][..., 0])
    if "depth" not in test:
        return {}
    depth, poses = prediction
    scores = {
        **depth_scores(test["depth"][:, 1, ..., 0], depth),
        **trajectory_scores(test["poses"], poses),
    }
    if args.refine_steps:
        weights = (args.reconstruction_weight, args.ssim_weight)
        refined = refine_poses(
            test, depth, poses, args.refine_steps, weights, planar=args.planar_motion
        )
        if args.refine_keep == "lengths":
            refined = keep_lengths(poses, refined)
        for key, value in trajectory_scores(test["poses"], refined).items():
            scores[f"refined_{key}"] = value
    return scores


def median_scaled(true_depth, depth):
    """Each predicted depth map times `median(true) / median(predicted)` over known pixels."""
    known = true_depth > 0
    scales = [np.median(t[k]) / np.median(d[k]) for t, d, k in zip(true_depth, depth, known)]
    return depth * np.asarray(scales, np.float32)[:, None, None]


# --- Report ------------------------------------------------------------------------------


def plot_depths(path, test, predictions, count=4):
    """Inputs, predicted inverse depth and, on the synthetic data, the true inverse depth."""
    names, known = list(predictions), "depth" in test  # your own windows: no true depth
    picks = np.linspace(0, len(test["frame"]) - 1, count).astype(int)
    columns = len(names) + 1 + known
    fig, axes = plt.subplots(count, columns, figsize=(2.6 * columns, 1.1 * count))
    axes = np.atleast_2d(axes)
    for row, index in enumerate(picks):
        true = test["depth"][index, 1, ..., 0] if known else None
        panels = [("input", test["images"][index, 1], None)]
        for name in names:  # inverse depth, median-scaled to the truth, shown like the truth
            pred = predictions[name][0][index]
            scale = np.median(true[true > 0]) / np.median(pred[true > 0]) if known else 1.0
            panels.append((f"predicted ({name})", 1.0 / (scale * pred), "magma"))
        if known:
            panels.append(
                ("ground truth", np.where(true > 0, 1.0 / np.maximum(true, 1e-3), 0), "magma")
            )
        vmax = max(picture.max() for _, picture, _ in panels[-1 if known else 1 :])
        for col, (title, picture, cmap) in enumerate(panels):
            ax = axes[row, col]
            ax.imshow(picture, cmap=cmap, vmin=0 if cmap else None, vmax=vmax if cmap else None)
            ax.set_axis_off()
            if row == 0:
                ax.set_title(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_losses(path, histories):
    fig, ax = plt.subplots(figsize=(5, 3))
    for name, history in histories.items():
        ax.plot(np.arange(1, len(history["loss"]) + 1), history["loss"], label=name)
    ax.set(xlabel="epoch", ylabel="total training loss", yscale="log")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- Your own data (--data, --eval-images, --eval-depth) ----------------------------------


def own_data(args):
    """Windows of `--data` (SfMLearner / vid2depth layout) and the optional depth test set.

    Trains on `train.txt`; `val.txt`'s windows are held out for the photometric table
    (the training windows stand in when there is no `val.txt`).
    """
    size = tuple(args.image_size)
    train, test = (
        kt.datasets.sfm_sequences(args.data, split, size, max_windows=args.max_windows)
        for split in ("train", "val")
    )
    held_out = len(test["images"]) > 0
    truth = None
    if args.eval_images:
        truth = kt.datasets.depth_ground_truth(args.eval_images, args.eval_depth, size)
    return train, (test if held_out else train), held_out, truth


def ground_truth_scores(truth, depth, batch_size=16):
    """Mean depth metrics over the images of `truth` with ground truth (SfMLearner's protocol).

    Each predicted map (`depth`, at the network's size) is resized bilinearly to its true
    map's size, as SfMLearner does, then scored by `kt.metrics.depth_metrics` (median
    scaling, 80 m cap); images without a true pixel in range are left out (no image
    left: every metric `None`, "–" in the report).
    """
    true_size = truth["depth"].shape[1:]
    per_image = {name: [] for name in METRICS}
    for start in range(0, len(depth), batch_size):
        true = np.asarray(truth["depth"][start : start + batch_size], np.float32)
        pred = depth[start : start + batch_size, ..., None].astype(np.float32)
        pred = np.asarray(ops.image.resize(pred, true_size, interpolation="bilinear"))[..., 0]
        result = kt.metrics.depth_metrics(true, np.maximum(pred, 1e-3), max_depth=MAX_DEPTH)
        keep = np.asarray(result["valid_pixels"]) > 0
        for name in METRICS:
            per_image[name].extend(np.asarray(result[name])[keep].tolist())
    count = len(per_image[METRICS[0]])
    scores = {name: float(np.mean(v)) if count else None for name, v in per_image.items()}
    return {**scores, "images": count}


def run_on_own_data(args, strategy, output, argv):
    """Trains on `--data`, scores depth on `--eval-images`/`--eval-depth`, writes the report."""
    start = time.perf_counter()
    train, test, held_out, truth = own_data(args)
    data_seconds = time.perf_counter() - start
    model = build_model(args, strategy)
    histories, predictions, seconds, rows = train_variants(
        model, args, strategy, train, test, output, truth
    )
    if truth is not None:  # a constant depth, median-scaled: what a network has to beat
        flat = np.ones((len(truth["images"]), *args.image_size), np.float32)
        rows = {"constant depth (median-scaled)": ground_truth_scores(truth, flat), **rows}
    warp_errors = {"no motion": warp_error(test)}
    for name, (depth, poses) in predictions.items():
        warp_errors[f"{name}: predicted depth and pose"] = warp_error(test, depth, poses)
    plot_depths(output / "depth.png", test, predictions)
    plot_losses(output / "losses.png", histories)
    windows = "val.txt windows" if held_out else "train.txt windows (no val.txt)"
    if truth is None:
        depth_section = (
            "Depth was not evaluated: no ground truth was given (`--eval-images` and "
            "`--eval-depth`). The synthetic-data baselines and the paper's KITTI numbers "
            "do not apply to these data."
        )
    else:
        columns = ["model", *METRICS, "images"]
        depth_section = kt.recipe_utils.markdown_table(
            columns, [[name, *(row[c] for c in columns[1:])] for name, row in rows.items()]
        )
    metrics = {
        "results": rows,
        "depth_evaluated": truth is not None,
        **loss_summary(histories, seconds),
        "data_seconds": data_seconds,
        "windows": {"train": len(train["frame"]), "held_out": len(test["frame"]) * held_out},
        "warp_errors": warp_errors,
    }
    kt.recipe_utils.write_report(
        output,
        f"vid2depth: unsupervised depth and ego-motion on {args.data}",
        metrics,
        {
            "Depth on your ground truth (median scaling, 80 m cap)": depth_section,
            f"Photometric loss (masked L1, frame t-1 warped into t, {windows})": (
                photometric_table(warp_errors)
            ),
            "Run": run_line(argv, seconds),
        },
        images=["depth.png", "losses.png"],
        tensorboard=args.tensorboard,
    )
    return metrics


def photometric_table(warp_errors):
    """The photometric table of the report: `{depth and pose: L1}` as Markdown."""
    return kt.recipe_utils.markdown_table(
        ["depth and pose", "L1"], [[n, e] for n, e in warp_errors.items()]
    )


def run_line(argv, seconds):
    """The report's last line: the command line and each variant's training seconds.

    `argv=None` (the recipe run as a script): the arguments of `sys.argv`.
    """
    arguments = sys.argv[1:] if argv is None else argv
    return f"`{' '.join(arguments)}`; training seconds per variant: {seconds}"


def loss_summary(histories, seconds):
    """The losses before and after training of each variant, and its training time."""
    return {
        "loss_before_training": {n: h["probe_loss"][0] for n, h in histories.items()},
        "loss_after_training": {n: h["probe_loss"][1] for n, h in histories.items()},
        "loss_first_epoch": {n: h["loss"][0] for n, h in histories.items()},
        "loss_last_epoch": {n: h["loss"][-1] for n, h in histories.items()},
        "train_seconds": seconds,
    }


# --- Main ------------------------------------------------------------------------------


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    quick = {
        "epochs": 3,
        "steps_per_epoch": 4,
        "batch_size": 4,
        "train_sequences": 2,
        "test_sequences": 1,
        "sequence_length": 6,
        "image_size": [32, 96],
        "scales": 2,
        "max_windows": 64,
        "refine_steps": 2,  # 50 by default: a minute on the held-out windows
        "pose_refit_steps": 4,
    }
    kt.recipe_utils.add_recipe_arguments(parser, "vid2depth", epochs=20, quick=quick)
    count = kt.recipe_utils.positive_int
    parser.add_argument(
        "--variants",
        nargs="+",
        choices=list(VARIANTS),
        default=["all"],
        help="the loss variants to train, each from the same start (the paper's ablation: "
        "all no_icp no_ssim no_masks; the first one is exported; default: all)",
    )
    parser.add_argument("--reconstruction-weight", type=float, default=0.85)
    parser.add_argument("--ssim-weight", type=float, default=0.15)
    parser.add_argument("--smoothness-weight", type=float, default=0.001)
    parser.add_argument("--icp-weight", type=float, default=0.1)
    parser.add_argument(
        "--consistency-weight",
        type=float,
        default=0.0,
        help="SC-SfMLearner's depth consistency between neighbouring frames and its "
        "self-discovered mask on the photometric loss (0: off; the paper's weight: 0.5)",
    )
    parser.add_argument("--icp-iterations", type=count, default=3)
    parser.add_argument("--icp-points", type=count, default=512, help="points per cloud")
    parser.add_argument("--icp-stride", type=count, default=8, help="pixel stride at scale 0")
    parser.add_argument(
        "--icp-normalize",
        action="store_true",
        help="ICP on clouds in units of the target's mean predicted depth, a scale-free "
        "variant (default: in the network's depth units, as the paper; measured better)",
    )
    parser.add_argument("--image-size", type=count, nargs=2, default=[64, 192])
    parser.add_argument("--train-sequences", type=count, default=96)
    parser.add_argument("--test-sequences", type=count, default=16)
    parser.add_argument("--sequence-length", type=count, default=12)
    parser.add_argument(
        "--frame-steps",
        type=count,
        nargs="+",
        help="train on windows (t-s, t, t+s) for each step s given (the same videos; "
        "held-out windows and baselines stay at s = 1; synthetic data only; default: 1 2)",
    )
    parser.add_argument("--steps-per-epoch", type=count, default=100)
    parser.add_argument("--batch-size", type=count, default=8, help="windows per replica")
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--width", type=count, default=16, help="channels of the first layer")
    parser.add_argument("--scales", type=count, default=4, choices=(1, 2, 3, 4))
    parser.add_argument(
        "--depth-range",
        type=float,
        nargs=2,
        default=[0.01, 100.0],
        help="min and max depth the disparity network can output (vid2depth's: 0.1 100)",
    )
    parser.add_argument(
        "--spacing",
        choices=("linear", "log"),
        default="linear",
        help="the sigmoid spans the disparity range linearly (vid2depth) or in log disparity",
    )
    parser.add_argument("--pose-scale", type=float, default=0.01, help="pose output scaling")
    parser.add_argument(
        "--refine-steps",
        type=kt.recipe_utils.non_negative_int,
        default=50,
        help="evaluation: Adam steps of test-time photometric refinement of each held-out "
        "window's poses, scored as refined_ate (0: none; docs/vid2depth.md rows 35, 63, "
        "68-69)",
    )
    parser.add_argument(
        "--refine-keep",
        choices=("lengths", "pose"),
        default="lengths",
        help="what the refinement changes: the translations' lengths only, on the network's "
        "directions and rotations (the default), or the whole pose (docs/vid2depth.md, "
        "rows 63, 68-69)",
    )
    parser.add_argument(
        "--mirror",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="mirror each training window left-right with probability 1/2 (Monodepth2)",
    )
    parser.add_argument(
        "--upsample",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="warp every scale's disparity upsampled to the input size (Monodepth2)",
    )
    parser.add_argument(
        "--scale-disparity",
        choices=("own", "finest"),
        default="own",
        help="the disparity each coarser scale's losses use: its own decoder head's "
        "(vid2depth) or the finest one, area-downsampled (docs/vid2depth.md, row 56)",
    )
    parser.add_argument(
        "--min-reprojection",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="per-pixel minimum photometric error over the two neighbours (Monodepth2)",
    )
    parser.add_argument(
        "--automask",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="with --min-reprojection: ignore pixels the unwarped neighbours explain better",
    )
    parser.add_argument(
        "--pose-norm",
        choices=("batch", "group", "none"),
        default="batch",
        help="normalisation in the pose network's convolutions (none: SfMLearner's)",
    )
    parser.add_argument(
        "--pose-lr-multiplier",
        metavar="M",
        type=float,
        default=1.0,
        help="the pose network trains at M times the learning rate "
        "(kt.optimizers.LearningRateMultiplier; default 1)",
    )
    parser.add_argument(
        "--pose-input",
        choices=("window", "pairs"),
        default="window",
        help="the pose networks see the stacked window (SfMLearner's, vid2depth's) or "
        "two frames at a time in temporal order, t-1 and t, then t and t+1 (Monodepth2's "
        "pairs; docs/vid2depth.md, rows 65-66)",
    )
    parser.add_argument(
        "--planar-motion",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the pose networks predict a motion on flat ground: forward, sideways and a "
        "turn about the vertical; no climb, pitch or roll (a car's; on by default, "
        "--no-planar-motion for a handheld or flying camera; docs/vid2depth.md, rows 68-69)",
    )
    parser.add_argument(
        "--pose-refit-steps",
        metavar="N",
        type=kt.recipe_utils.non_negative_int,
        default=1000,
        help="after training, a fresh pose network without normalisation trained N steps "
        "on the frozen depth; it is the one evaluated and shipped (0: none; not with "
        "--oracle-pose; docs/vid2depth.md, row 57)",
    )
    parser.add_argument(
        "--trim",
        metavar="FRACTION",
        type=float,
        default=0.0,
        help="average each warp's per-pixel photometric error without its worst FRACTION "
        "of pixels (kt.losses.trimmed_mean; 0: vid2depth's masked L1 and SSIM means)",
    )
    # Your own data (docs/vid2depth.md): checked here, before TensorFlow loads.
    own = parser.add_argument_group("your own data (layouts checked before training)")
    own.add_argument(
        "--data",
        metavar="DIR",
        type=kt.recipe_utils.layout_argument(check_sfm_sequences),
        help="windows prepared by SfMLearner's or vid2depth's scripts: DIR/train.txt "
        "(trained on), DIR/val.txt (held out), DIR/<folder>/<frame>.jpg and _cam.txt",
    )
    own.add_argument(
        "--max-windows",
        metavar="N",
        type=kt.recipe_utils.positive_int,
        help="read at most this many windows of each split (a random subset; default: all)",
    )
    own.add_argument(
        "--eval-images",
        metavar="LIST",
        type=kt.recipe_utils.layout_argument(check_image_list),
        help="a text file of test images, one path per line (relative to the file)",
    )
    own.add_argument(
        "--eval-depth",
        metavar="NPY",
        type=kt.recipe_utils.layout_argument(check_depth_maps),
        help="their true depth maps [N, H, W] in metres (0 = unknown), in the same order",
    )
    oracle = parser.add_argument_group("oracles (diagnostics: ground truth in training)")
    oracle.add_argument(
        "--oracle-pose", action="store_true", help="true poses in place of the pose network"
    )
    oracle.add_argument(
        "--oracle-depth", action="store_true", help="true depth in place of the depth network"
    )

    def flags_that_go_together(args):
        if args.automask and not args.min_reprojection:
            return "--automask needs --min-reprojection"
        if not 0.0 <= args.trim < 1.0:
            return "--trim is a fraction of the pixels, at least 0 and below 1"
        if args.pose_norm == "group" and args.width % 8:
            return "--pose-norm group needs a --width divisible by 8 (its 8 groups)"
        if not args.pose_lr_multiplier > 0:
            return "--pose-lr-multiplier must be above 0"
        if args.trim and args.min_reprojection:
            return "--trim applies to vid2depth's four warps, not --min-reprojection"
        if args.consistency_weight and args.min_reprojection:
            return "--consistency-weight needs vid2depth's four warps, not --min-reprojection"
        if (args.eval_images is None) != (args.eval_depth is None):
            return "--eval-images and --eval-depth go together"
        if args.eval_images and not args.data:
            return "--eval-images needs --data (a model trained on your windows)"
        if args.data and (args.oracle_pose or args.oracle_depth):
            return "--oracle-pose and --oracle-depth need the synthetic data, not --data"
        if args.data and args.frame_steps:
            return "--frame-steps needs the synthetic data (your windows are cut already)"
        if args.frame_steps and len(set(args.frame_steps)) != len(args.frame_steps):
            return "--frame-steps must be distinct steps"
        if not args.data and 2 * max(args.frame_steps or FRAME_STEPS) + 1 > args.sequence_length:
            return "--sequence-length must be at least 2 * max(--frame-steps) + 1"
        if args.eval_images:
            count = check_depth_maps(args.eval_depth)[0]
            listed = len(check_image_list(args.eval_images))
            if count != listed:
                return f"--eval-depth holds {count} maps, --eval-images lists {listed}"
        return None

    kt.recipe_utils.add_flag_check(parser, flags_that_go_together)  # before TensorFlow loads
    return parser


def variant_settings(name, args):
    """The loss weights and the mask switch of one variant."""
    weights = {
        "reconstruction": args.reconstruction_weight,
        "ssim": args.ssim_weight,
        "smoothness": args.smoothness_weight,
        "icp": args.icp_weight,
        "consistency": args.consistency_weight,
    }
    switches = dict(VARIANTS[name])
    use_masks = switches.pop("masks", True)
    return {**weights, **switches}, use_masks


def icp_settings(args):
    """The ICP options; 0 iterations (ICP not even computed) when no variant weights it.

    `--variants no_icp` alone thus skips it: computed with weight 0, it costs more than
    the rest of the training step at 64x192.
    """
    weighted = any(variant_settings(name, args)[0]["icp"] for name in args.variants)
    return {
        "iterations": args.icp_iterations if weighted else 0,
        "points": args.icp_points,
        "stride": args.icp_stride,
        "normalize": args.icp_normalize,
    }


def cosine_adam(args, steps, **options):
    """Adam at `--learning-rate`, decayed to 5 % over `steps` by a cosine; `options` go to
    `keras.optimizers.Adam`."""
    schedule = keras.optimizers.schedules.CosineDecay(args.learning_rate, steps, alpha=0.05)
    return keras.optimizers.Adam(schedule, **options)


def build_model(args, strategy):
    height, width = args.image_size
    icp = icp_settings(args)
    options = {
        "upsample": args.upsample,
        "scale_disparity": args.scale_disparity,
        "minimum": args.min_reprojection,
        "automask": args.automask,
        "trim": args.trim,
        "consistency": bool(args.consistency_weight),
        # XLA for the losses only: 1.3x faster than the whole step compiled (Pitfalls)
        "compiled_losses": args.jit_compile,
    }
    with strategy.scope():
        model = Vid2Depth(
            disparity_network(
                height, width, args.width, args.scales, args.depth_range, args.spacing
            ),
            args_pose_network(args, args.pose_norm),
            icp,
            options,
            name="vid2depth",
        )
        optimizer = cosine_adam(args, args.epochs * args.steps_per_epoch)
        if args.pose_lr_multiplier != 1:  # the pose network's steps scaled (rows 50-51)
            keys = kt.optimizers.expand_multipliers(model, {"pose_net": args.pose_lr_multiplier})
            optimizer = kt.optimizers.LearningRateMultiplier(optimizer, keys)
        model.compile(optimizer=optimizer, jit_compile=False)
        # Built now: on one device Keras builds it inside the first traced step, and a
        # tf.function that creates variables is traced twice (first step 23 s -> 13 s of CPU).
        model.optimizer.build(model.trainable_variables)
    return model


def probe_loss(model, probe):
    """The total loss on a fixed batch (batch-norm statistics restored afterwards)."""
    saved = model.get_weights()
    loss = float(model.compute_losses(**probe)[0])
    model.set_weights(saved)
    return loss


def args_pose_network(args, norm):
    """The pose network the options ask for (`--image-size`, `--width`, `--pose-scale`,
    `--pose-input`, `--planar-motion`), with the normalisation `norm`: the joint
    training's (`--pose-norm`) or the refit's ("none")."""
    height, width = args.image_size
    pairs = args.pose_input == "pairs"
    return pose_network(height, width, args.width, args.pose_scale, norm, pairs, args.planar_motion)


def pose_refit_model(model, args, strategy, steps):
    """`refit_pose_network`'s model, compiled: `model`'s disparity network (freeze it
    first), a fresh pose network without normalisation, Adam over `steps` with its
    weights averaged, `model`'s loss weights and its compiled losses."""
    with strategy.scope():
        refit = Vid2Depth(
            model.disparity_net,
            args_pose_network(args, "none"),
            model.icp,
            model.options,
            name="pose_refit",
        )
        optimizer = cosine_adam(args, steps, use_ema=True, ema_momentum=0.99)
        refit.compile(optimizer=optimizer, jit_compile=False)
        refit.optimizer.build(refit.trainable_variables)
    for switch, variable in model.switches.items():  # the variant's loss weights
        refit.switches[switch].assign(variable)
    # The same losses of the same shapes: the joint training's compiled function (its
    # switches hold the same weights), not a second XLA compilation of them.
    refit.compiled_terms = model.compiled_terms
    return refit


def refit_pose_network(model, args, strategy, dataset, name):
    """A second pose network, trained on the finished disparity network's frozen depth.

    The batch-normalised pose network lets the depth network learn (rows 45-51: without
    normalisation the depth's scale sinks), but its direction of travel stays 1.4-1.9°
    off; SfMLearner's pose network without normalisation, trained on the same losses
    with the depth fixed, gets it within about half a degree (docs/vid2depth.md, row 57).
    So after the joint training a fresh one (`--pose-norm none`'s) takes
    `--pose-refit-steps` steps of the same losses, the same data and learning rate (its
    own cosine schedule), with the disparity network frozen (its batch normalisation in
    inference mode, as when it is served); its weights are averaged over the steps
    (Adam's `use_ema`, momentum 0.99), which steadies the direction from one epoch to
    the next. It replaces the trained pose network for evaluation and export.
    """
    steps = args.pose_refit_steps
    per_epoch = min(steps, args.steps_per_epoch)
    model.disparity_net.trainable = False
    try:
        refit = pose_refit_model(model, args, strategy, steps)
        print(f"{name}: the pose network refitted on the frozen depth", flush=True)
        refit.fit(  # its EMA weights are swapped in at the end of fit
            dataset,
            epochs=-(-steps // per_epoch),
            steps_per_epoch=per_epoch,
            shuffle=False,  # the dataset shuffles
            callbacks=kt.recipe_utils.tensorboard_callbacks(args.tensorboard, f"{name}_pose"),
            verbose=2,
        )
    finally:
        model.disparity_net.trainable = True
    return refit.pose_net


def train_variants(model, args, strategy, train, test, output, truth=None):
    """Trains each variant from the same initial weights with one compiled step; evaluates.

    `truth`: your own depth test set (`--eval-images`, `--eval-depth`), scored in place
    of the synthetic ground truth.
    """
    inputs = training_inputs(train, args)
    global_batch = args.batch_size * strategy.num_replicas_in_sync
    dataset = training_dataset(inputs, global_batch, args.seed, mirror=args.mirror)
    with strategy.scope():
        model.optimizer.build(model.trainable_variables)
    initial = model.get_weights()
    initial_optimizer = [variable.numpy() for variable in model.optimizer.variables]
    probe = {key: value[:8] for key, value in inputs.items()}  # a fixed batch to watch the loss
    histories, predictions, seconds, rows = {}, {}, {}, {}
    for name in args.variants:
        model.set_weights(initial)  # the same start for every variant...
        for variable, value in zip(model.optimizer.variables, initial_optimizer, strict=True):
            variable.assign(value)  # ...and a fresh Adam
        model.set_variant(*variant_settings(name, args))
        before = probe_loss(model, probe)
        start = time.perf_counter()
        history = model.fit(
            dataset,
            epochs=args.epochs,
            steps_per_epoch=args.steps_per_epoch,
            shuffle=False,  # the dataset shuffles, in the same order for every variant
            callbacks=kt.recipe_utils.tensorboard_callbacks(args.tensorboard, name),
            verbose=2,
        )
        histories[name], seconds[name] = history.history, time.perf_counter() - start
        histories[name]["probe_loss"] = [before, probe_loss(model, probe)]
        pose_net = model.pose_net
        if args.pose_refit_steps and not args.oracle_pose:  # counted in the training time
            start = time.perf_counter()
            pose_net = refit_pose_network(model, args, strategy, dataset, name)
            seconds[name] += time.perf_counter() - start
        predictions[name] = predict(model.disparity_net, pose_net, test)
        rows[name] = variant_scores(model, test, predictions[name], args, truth)
        rows[name]["at_depth_limits"] = at_depth_limits(predictions[name][0], args.depth_range)
        if rows[name]["at_depth_limits"] > 0.01:
            print(
                f"{name}: {rows[name]['at_depth_limits']:.1%} of the held-out pixels' depths "
                f"sit at --depth-range's ends {args.depth_range}: the network's scale drifted "
                "there, where the disparity's sigmoid passes no gradient (docs/vid2depth.md, "
                "rows 46-47)",
                file=sys.stderr,
            )
        scores = ", ".join(f"{key} {value:.4g}" for key, value in rows[name].items())
        print(f"{name} ({seconds[name]:.0f} s of training): {scores}", flush=True)
        if name == args.variants[0]:
            # The disparity network (served: the finest scale) and the pose network.
            sample = test["images"][:4]
            kt.recipe_utils.save_and_export(
                model.disparity_net, output, sample[:, 1], outputs=["disparity_0"]
            )
            stacked = np.asarray(stack_window(sample))
            kt.recipe_utils.save_and_export(pose_net, output, stacked, name="pose_net")
    return histories, predictions, seconds, rows


def main(argv=None):
    args = kt.recipe_utils.parse_recipe_args(build_parser(), argv)
    strategy = kt.recipe_utils.prepare_run(args)
    output = Path(args.output)
    if args.data:
        return run_on_own_data(args, strategy, output, argv)

    start = time.perf_counter()
    windows, train, test = make_data(args)
    data_seconds = time.perf_counter() - start
    true_depth = test["depth"][:, 1, ..., 0]
    baseline = np.broadcast_to(mean_depth_baseline(train), true_depth.shape)
    rows = {"train-set mean depth": depth_scores(true_depth, baseline)}
    mean_pose = np.broadcast_to(train["poses"].mean(axis=0), test["poses"].shape)
    rows["train-set mean depth"].update(trajectory_scores(test["poses"], mean_pose))
    by_range = {"train-set mean depth": range_scores(true_depth, baseline)}

    model = build_model(args, strategy)
    histories, predictions, seconds, scores = train_variants(
        model, args, strategy, windows, test, output
    )
    rows.update(scores)
    # The photometric loss must rank the truth best (the oracle check of docs/vid2depth.md).
    true_poses = test["poses"]
    warp_errors = {
        "true depth, true pose": warp_error(test, true_depth, true_poses),
        "train-set mean depth, true pose": warp_error(test, baseline, true_poses),
        "no motion": warp_error(test),
    }
    for name, (depth, poses) in predictions.items():
        by_range[name] = range_scores(true_depth, depth)
        warp_errors[f"{name}: predicted depth and pose"] = warp_error(test, depth, poses)
        scaled = median_scaled(true_depth, depth)
        warp_errors[f"{name}: predicted depth (median-scaled), true pose"] = warp_error(
            test, scaled, true_poses
        )

    plot_depths(output / "depth.png", test, predictions)
    plot_losses(output / "losses.png", histories)
    ate = ["ate_mean", "ate_std", "direction_error", "ratio_error", "rotation_error"]
    if args.refine_steps:
        ate += [f"refined_{name}" for name in ate]
    columns = ["model", *METRICS, "depth_slope", "at_depth_limits", *ate, "paper abs_rel"]
    table = [
        [
            name,
            *(score.get(c, "–") for c in columns[1:-1]),  # the baseline has no refined ATE
            PAPER.get(name, 0.361 if "mean" in name else ""),
        ]
        for name, score in rows.items()
    ]
    metrics = {
        "results": rows,
        **loss_summary(histories, seconds),
        "data_seconds": data_seconds,
        "windows": {"train": len(windows["frame"]), "test": len(test["frame"])},
        "warp_errors": warp_errors,
        "abs_rel_by_range": by_range,
    }
    kt.recipe_utils.write_report(
        output,
        "vid2depth: unsupervised depth and ego-motion on a synthetic street",
        metrics,
        {
            "Held-out depth (median scaling, 80 m cap) and 3-frame ATE": (
                kt.recipe_utils.markdown_table(columns, table)
                + "\n\nPaper (KITTI, Table 2): train-set mean 0.361, all losses 0.163, "
                "no ICP 0.175, no SSIM 0.183, no masks 0.176."
            ),
            "Abs Rel by range of true depth: Abs Rel within the range (its contribution to "
            "the overall Abs Rel; the contributions add up to it)": range_table(by_range),
            "Photometric oracle (masked L1, frame t-1 warped into t, held-out windows)": (
                photometric_table(warp_errors)
            ),
            "Run": run_line(argv, seconds),
        },
        images=["depth.png", "losses.png"],
        tensorboard=args.tensorboard,
    )
    return metrics


if __name__ == "__main__":
    main()
