"""Fitting `ColorQuantizer`'s palette: pixels from data, k-means, distances, in NumPy."""

import numpy as np
from keras import ops

from kerastricks._checks import fail
from kerastricks.layers._color_space import rgb_to_lab

__all__ = ["color_points", "fit_centroids", "nearest_distances"]


def color_points(data, input_space: str, color_space: str) -> np.ndarray:
    """The pixels of `data` (an array `[..., 3]` or an iterable of them) as float64 rows
    in the quantized space (`"ab"`: 2 columns, `"lab"`: 3)."""
    batches = [data] if hasattr(data, "shape") else list(data)
    points = []
    for batch in batches:
        array = np.asarray(ops.convert_to_numpy(batch), "float32")
        if array.shape[-1] != 3:
            fail("Colors must have 3 channels on the last axis.", "data.shape", array.shape)
        array = array.reshape(-1, 3)
        lab = np.asarray(rgb_to_lab(array)) if input_space == "rgb" else array
        points.append(lab[:, 1:] if color_space == "ab" else lab)
    points = np.concatenate(points, axis=0).astype("float64")
    if not np.all(np.isfinite(points)):
        fail("Colors must be finite.", "data", "array with NaN or inf")
    return points


def fit_centroids(points, num_colors: int, sample_size: int, seed) -> np.ndarray:
    """scikit-learn's k-means (k-means++, 4 restarts) on at most `sample_size` points."""
    from sklearn.cluster import KMeans

    if len(points) < num_colors:
        fail(f"`adapt` needs at least num_colors={num_colors} pixels.", "pixels", len(points))
    rng = np.random.default_rng(seed)
    if len(points) > sample_size:
        points = points[rng.choice(len(points), sample_size, replace=False)]
    return KMeans(num_colors, n_init=4, random_state=seed).fit(points).cluster_centers_


def nearest_distances(points, centroids) -> np.ndarray:
    """The Euclidean distance of each point to its nearest centroid, in chunks of 65536
    points to bound memory."""
    centroids = np.asarray(centroids, "float64")
    out = np.empty(len(points))
    for start in range(0, len(points), 65536):
        chunk = points[start : start + 65536]
        squared = ((chunk[:, None, :] - centroids[None]) ** 2).sum(-1)
        out[start : start + 65536] = np.sqrt(squared.min(axis=-1))
    return out
