"""A static street of textured boxes, and a NumPy ray caster that renders it with depth.

Private to `synthetic_driving`. World frame: x right, y DOWN, z forward (the camera
convention, so a camera with identity rotation looks down +z with its image rows along +y).
The ground is the plane `y = CAMERA_HEIGHT`; the camera drives at `y = 0`. Everything else
is an axis-aligned box. Surfaces carry photographs from `skimage.data`, sampled with
trilinear mip-mapping so that a surface point looks nearly the same from nearby frames
(what the photometric losses of self-supervised depth assume).
"""

import functools

import numpy as np

CAMERA_HEIGHT = 1.65  # metres, the KITTI camera's height above the road
TEXTURE_SIZE = 128  # texels per side of mip level 0
MIP_LEVELS = 6  # 128, 64, 32, 16, 8, 4 texels
# Photographs bundled with scikit-image (no download). Index 0 is the road, 1 the pavement.
PHOTOS = (
    "gravel", "brick", "astronaut", "coffee", "chelsea", "rocket", "camera", "page",
    "coins", "moon", "text", "immunohistochemistry", "grass", "clock", "hubble_deep_field",
)  # fmt: skip
ROAD, PAVEMENT = 0, 1
# A car's camera sits at the centre of its roof: 0.9 m to either side of it is the car
# itself (1.8 m wide), plus 0.3 m of room. No surface comes nearer to the camera's lane.
CLEARANCE = 1.2  # metres
CAR_WIDTH, KERB_GAP = 1.8, (0.2, 0.6)  # parked cars, and their gap to the pavement
SHADE = np.array([0.78, 0.92, 1.0, 0.62, 0.85, 0.7], np.float32)  # face normal -x,+x,-y,+y,-z,+z


@functools.lru_cache(maxsize=1)
def texture_atlas():
    """All mip levels of all photos in one `[texels, 3]` array, and `offsets[photo, level]`."""
    from skimage import data, transform

    levels, offsets, start = [], np.zeros((len(PHOTOS), MIP_LEVELS), np.int64), 0
    for k, name in enumerate(PHOTOS):
        image = np.asarray(getattr(data, name)(), np.float32) / 255.0
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=-1)
        side = min(image.shape[:2])  # centre square
        top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
        image = image[top : top + side, left : left + side, :3]
        image = transform.resize(image, (TEXTURE_SIZE,) * 2, anti_aliasing=True)
        image = 0.15 + 0.8 * (image - image.min()) / max(np.ptp(image), 1e-6)  # comparable contrast
        for level in range(MIP_LEVELS):
            offsets[k, level] = start
            levels.append(image.reshape(-1, 3).astype(np.float32))
            start += image.shape[0] * image.shape[1]
            image = 0.25 * (
                image[::2, ::2] + image[1::2, ::2] + image[::2, 1::2] + image[1::2, 1::2]
            )
    return np.concatenate(levels), offsets


def build_street(rng, length, lane=0.0):
    """A random street `length` metres long: returns boxes `[N, 2, 3]`, photo ids, texel sizes,
    texture offsets `[N, 2]` and colour tints `[N, 3]` (the road half-width is in `info`).

    `lane`: the camera's largest distance from the street's centre line (`|x|`) on its
    drive. The road is widened where needed so that parked cars keep `CLEARANCE` from it:
    a car cannot drive through the parked ones (an earlier version let it: in 20-31 % of
    its frames a box side was nearer than half a car's width to the camera's side).
    """
    drawn = rng.uniform(3.0, 4.5)
    half_road = max(drawn, lane + CLEARANCE + CAR_WIDTH + KERB_GAP[1])
    boxes, photos, texel, tints = [], [], [], []

    def add(low, high, photo, texel_size, tint=None):
        boxes.append((low, high))
        photos.append(photo)
        texel.append(texel_size)
        tints.append(rng.uniform(0.75, 1.1, 3) if tint is None else tint)

    for side in (-1.0, 1.0):
        z = -15.0
        while z < length:  # buildings: setback, width, height vary
            depth_along = rng.uniform(6.0, 20.0)
            inner = half_road + rng.uniform(2.0, 6.0)
            height = rng.uniform(4.0, 16.0)
            x = sorted((side * inner, side * (inner + 10.0)))
            low, high = (x[0], CAMERA_HEIGHT - height, z), (x[1], CAMERA_HEIGHT, z + depth_along)
            add(low, high, rng.integers(1, len(PHOTOS)), rng.uniform(0.04, 0.08))
            z += depth_along + (rng.uniform(1.0, 5.0) if rng.random() < 0.3 else 0.0)
        z = rng.uniform(-10.0, 5.0)
        while z < length:  # parked cars at the kerb
            if rng.random() < 0.6:
                inner = half_road - rng.uniform(*KERB_GAP) - CAR_WIDTH
                x = sorted((side * inner, side * (inner + CAR_WIDTH)))
                top = CAMERA_HEIGHT - rng.uniform(1.3, 1.7)
                low, high = (x[0], top, z), (x[1], CAMERA_HEIGHT, z + rng.uniform(3.8, 4.8))
                add(low, high, rng.integers(2, len(PHOTOS)), rng.uniform(0.02, 0.04))
            z += rng.uniform(5.5, 9.0)
        z = rng.uniform(0.0, 10.0)
        while z < length:  # poles and tree trunks on the pavement
            x0 = side * (half_road + rng.uniform(0.6, 1.5))
            low = (x0 - 0.15, CAMERA_HEIGHT - rng.uniform(3.0, 6.0), z)
            add(low, (x0 + 0.15, CAMERA_HEIGHT, z + 0.3), rng.integers(2, len(PHOTOS)), 0.01)
            z += rng.uniform(8.0, 20.0)
    boxes = np.asarray(boxes, np.float64)
    offsets = rng.uniform(0, TEXTURE_SIZE, (len(boxes), 2))
    street = {
        "boxes": boxes,
        "photos": np.asarray(photos, np.int64),
        "texel": np.asarray(texel, np.float64),
        "offsets": offsets,
        "tints": np.asarray(tints, np.float32),
        "half_road": half_road,
        "ground_offset": rng.uniform(0, TEXTURE_SIZE, 2),
    }
    return street


def render(street, rotation, position, intrinsics, height, width, far=200.0):
    """Casts one ray per pixel; returns the image `[H, W, 3]` and z-depth `[H, W]` (0 = sky).

    `rotation`, `position`: camera-to-world. Pixel `(u, v)` (column, row) is the ray through
    `K^-1 [u, v, 1]`: pixel centres sit at integer coordinates.
    """
    v, u = np.mgrid[0:height, 0:width].astype(np.float64)
    rays = np.stack([u, v, np.ones_like(u)], -1).reshape(-1, 3) @ np.linalg.inv(intrinsics).T
    directions = rays @ rotation.T  # world; the camera-frame z of `rays` is 1: t is z-depth
    count = len(directions)
    depth = np.full(count, np.inf)
    normal_axis = np.full(count, 3)  # 0..2 a box face axis, 3 the ground
    hit_box = np.full(count, -1)

    with np.errstate(divide="ignore", invalid="ignore"):
        t_ground = (CAMERA_HEIGHT - position[1]) / directions[:, 1]
    on_ground = np.isfinite(t_ground) & (t_ground > 0)
    depth[on_ground] = t_ground[on_ground]

    boxes = street["boxes"]
    near = np.flatnonzero(_in_view(boxes, rotation, position, intrinsics, height, width, far))
    inverse = 1.0 / np.where(np.abs(directions) < 1e-12, 1e-12, directions)
    for index in near:  # one vectorised slab test per box
        t1 = (boxes[index, 0] - position) * inverse
        t2 = (boxes[index, 1] - position) * inverse
        t_low, t_high = np.minimum(t1, t2), np.maximum(t1, t2)
        t_enter = np.maximum(np.maximum(t_low[:, 0], t_low[:, 1]), t_low[:, 2])
        t_exit = np.minimum(np.minimum(t_high[:, 0], t_high[:, 1]), t_high[:, 2])
        hit = (t_enter <= t_exit) & (t_enter > 1e-6) & (t_enter < depth)
        depth[hit] = t_enter[hit]
        normal_axis[hit] = t_low[hit].argmax(axis=1)
        hit_box[hit] = index

    points = position + directions * np.where(np.isfinite(depth), depth, 0.0)[:, None]
    sky = ~np.isfinite(depth) | (depth > far)
    color = _sky(directions)
    surface = ~sky
    color[surface] = _shade_surfaces(
        street, points[surface], directions[surface], depth[surface],
        normal_axis[surface], hit_box[surface], intrinsics[0, 0],
    )  # fmt: skip
    depth = np.where(sky, 0.0, depth)
    return color.reshape(height, width, 3).astype(np.float32), depth.reshape(height, width)


def _in_view(boxes, rotation, position, intrinsics, height, width, far):
    """Boxes not entirely outside one side of the view frustum (corners tested per plane)."""
    corners = np.stack(
        [np.stack([boxes[:, i, 0], boxes[:, j, 1], boxes[:, k, 2]], -1)
         for i in (0, 1) for j in (0, 1) for k in (0, 1)], axis=1,
    )  # fmt: skip
    camera = (corners - position) @ rotation  # [N, 8, 3], rows R^T (c - p)
    x, y, z = camera[..., 0], camera[..., 1], camera[..., 2]
    left, right = (
        -intrinsics[0, 2] / intrinsics[0, 0],
        (width - 1 - intrinsics[0, 2]) / intrinsics[0, 0],
    )
    top, bottom = (
        -intrinsics[1, 2] / intrinsics[1, 1],
        (height - 1 - intrinsics[1, 2]) / intrinsics[1, 1],
    )
    margin = 1e-3
    outside = (
        np.all(z <= 0, axis=1) | np.all(z > far, axis=1)
        | np.all(x > (right + margin) * z, axis=1) | np.all(x < (left - margin) * z, axis=1)
        | np.all(y > (bottom + margin) * z, axis=1) | np.all(y < (top - margin) * z, axis=1)
    )  # fmt: skip
    return ~outside


def _shade_surfaces(street, points, directions, depth, axis, box, focal):
    ground = axis == 3
    on_road = np.abs(points[:, 0]) < street["half_road"]
    photo = np.where(ground, np.where(on_road, ROAD, PAVEMENT), street["photos"][box])
    texel = np.where(ground, 0.03, street["texel"][box])
    # Texture coordinates: the two world axes spanning the face.
    axis_u = np.where(ground | (axis == 1), 0, np.where(axis == 0, 2, 0))
    axis_v = np.where(ground | (axis == 1), 2, 1)
    rows = np.arange(len(points))
    offset = np.where(ground[:, None], street["ground_offset"], street["offsets"][box])
    tex_u = points[rows, axis_u] / texel + offset[:, 0]
    tex_v = points[rows, axis_v] / texel + offset[:, 1]
    # Footprint of a pixel on the surface, for the mip level.
    normal_index = np.where(ground, 1, axis)
    unit = directions / np.linalg.norm(directions, axis=1, keepdims=True)
    cosine = np.maximum(np.abs(unit[rows, normal_index]), 0.05)
    distance = depth * np.linalg.norm(directions, axis=1)
    level = np.clip(np.log2(distance / focal / np.sqrt(cosine) / texel), 0, MIP_LEVELS - 1)
    color = _trilinear(photo, tex_u, tex_v, level)
    # Constant per-face shading and per-box tint: view-independent, so brightness constancy holds.
    sign = directions[rows, normal_index] > 0  # the face looks back at the ray
    face = np.where(ground, 2, 2 * normal_index + sign.astype(np.int64))
    tint = np.where(ground[:, None], 1.0, street["tints"][box])
    return color * SHADE[face][:, None] * tint


def _trilinear(photo, u, v, level):
    atlas, offsets = texture_atlas()
    low = np.floor(level).astype(np.int64)
    high = np.minimum(low + 1, MIP_LEVELS - 1)
    blend = (level - low)[:, None]
    return (1 - blend) * _bilinear(atlas, offsets, photo, u, v, low) + blend * _bilinear(
        atlas, offsets, photo, u, v, high
    )


def _bilinear(atlas, offsets, photo, u, v, level):
    size = TEXTURE_SIZE >> level
    scale = 2.0**level
    u, v = u / scale - 0.5, v / scale - 0.5
    u0, v0 = np.floor(u), np.floor(v)
    fu, fv = (u - u0)[:, None], (v - v0)[:, None]
    base = offsets[photo, level]

    def texel(uu, vv):  # mirrored tiling: no seams
        uu, vv = _mirror(uu.astype(np.int64), size), _mirror(vv.astype(np.int64), size)
        return atlas[base + vv * size + uu]

    top = (1 - fu) * texel(u0, v0) + fu * texel(u0 + 1, v0)
    bottom = (1 - fu) * texel(u0, v0 + 1) + fu * texel(u0 + 1, v0 + 1)
    return (1 - fv) * top + fv * bottom


def _mirror(index, size):
    index = np.mod(index, 2 * size)
    return np.where(index < size, index, 2 * size - 1 - index)


def _sky(directions):
    """Depends on the ray's direction only (infinitely far): consistent under translation."""
    unit = directions / np.linalg.norm(directions, axis=1, keepdims=True)
    elevation = np.clip(-unit[:, 1], 0.0, 1.0)[:, None]
    azimuth = np.arctan2(unit[:, 0], unit[:, 2])[:, None]
    clouds = (
        0.06 * np.sin(9.0 * azimuth + 4.0 * np.sin(23.0 * elevation)) * np.cos(31.0 * elevation)
    )
    horizon, zenith = np.array([0.82, 0.87, 0.92]), np.array([0.42, 0.6, 0.85])
    return ((1 - elevation) * horizon + elevation * zenith + clouds).astype(np.float32)
