"""Offline data with ground truth: bundled digits and photos, synthetic scenes and videos."""

from kerastricks.datasets.davis import check_davis, davis, write_davis_masks
from kerastricks.datasets.depth_ground_truth import (
    check_depth_maps,
    check_image_list,
    depth_ground_truth,
)
from kerastricks.datasets.digits import load_digits
from kerastricks.datasets.image_folder import check_image_folder, image_folder
from kerastricks.datasets.line_slopes import line_slopes
from kerastricks.datasets.moving_shapes import moving_shapes
from kerastricks.datasets.pose_parts import pose_parts
from kerastricks.datasets.sfm_sequences import check_sfm_sequences, sfm_sequences
from kerastricks.datasets.shape_scenes import shape_scenes
from kerastricks.datasets.subsets import per_class_sample, split_classes
from kerastricks.datasets.synthetic_driving import synthetic_driving

__all__ = [
    "check_davis",
    "check_depth_maps",
    "check_image_folder",
    "check_image_list",
    "check_sfm_sequences",
    "davis",
    "depth_ground_truth",
    "image_folder",
    "line_slopes",
    "load_digits",
    "moving_shapes",
    "per_class_sample",
    "pose_parts",
    "sfm_sequences",
    "shape_scenes",
    "split_classes",
    "synthetic_driving",
    "write_davis_masks",
]
