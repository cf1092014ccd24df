"""A small z-buffered triangle rasteriser in numpy (CPU), for the synthetic scenes.

Pixel (x, y) is sampled at its centre, the continuous coordinate (x, y) (OpenCV convention), so a
point projected with K lands on the pixel that shows it. Depth is resolved per pixel with a z-buffer
on interpolated inverse depth (exact for perspective). Back faces are culled only where the caller
says a surface is closed and consistently oriented.
"""

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

#: Triangles with a vertex closer than this to the camera plane are skipped, m.
NEAR_PLANE = 1e-3
#: Tolerance on (float32) barycentric coordinates so that shared edges leave no cracks.
_EDGE_EPS = 1e-5


@dataclass
class Raster:
    """Rasterised scene.

    face: (H, W) index of the visible face, -1 for background. depth: (H, W) m along z (inf for
    background). pixels: (P,) flat indices (y * W + x) of the covered pixels; barycentric: (P, 3)
    perspective-correct weights of their visible face's vertices.
    """

    face: np.ndarray
    depth: np.ndarray
    pixels: np.ndarray
    barycentric: np.ndarray


def _edge_weights(tri_u: np.ndarray, tri_v: np.ndarray, inv_den: np.ndarray, px: np.ndarray, py: np.ndarray) -> tuple:
    """Screen-space barycentrics (w0, w1, w2) of points (px, py) in triangles (rows of tri_u, tri_v)."""
    du, dv = px - tri_u[:, 2], py - tri_v[:, 2]
    w0 = ((tri_v[:, 1] - tri_v[:, 2]) * du + (tri_u[:, 2] - tri_u[:, 1]) * dv) * inv_den
    w1 = ((tri_v[:, 2] - tri_v[:, 0]) * du + (tri_u[:, 0] - tri_u[:, 2]) * dv) * inv_den
    return w0, w1, 1.0 - w0 - w1


def _affine_coefficients(
    tri_u: np.ndarray, tri_v: np.ndarray, tri_iz: np.ndarray, inv_den: np.ndarray, x0: np.ndarray, y0: np.ndarray
) -> tuple:
    """Per-face (a, b, c) float32 triples for w0, w1 and inverse depth as a * column + b * row + c.

    tri_u, tri_v: (F, 3) px corner coordinates; tri_iz: (F, 3) 1/m corner inverse depths;
    inv_den: (F,) inverse of twice the signed screen area; x0, y0: (F,) px box corner, (column, row) = pixel - (x0, y0).
    """
    a0 = (tri_v[:, 1] - tri_v[:, 2]) * inv_den
    b0 = (tri_u[:, 2] - tri_u[:, 1]) * inv_den
    a1 = (tri_v[:, 2] - tri_v[:, 0]) * inv_den
    b1 = (tri_u[:, 0] - tri_u[:, 2]) * inv_den
    du, dv = x0 - tri_u[:, 2], y0 - tri_v[:, 2]
    c0, c1 = a0 * du + b0 * dv, a1 * du + b1 * dv
    d0, d1 = tri_iz[:, 0] - tri_iz[:, 2], tri_iz[:, 1] - tri_iz[:, 2]
    triples = ((a0, b0, c0), (a1, b1, c1), (a0 * d0 + a1 * d1, b0 * d0 + b1 * d1, tri_iz[:, 2] + c0 * d0 + c1 * d1))
    return tuple(tuple(x.astype(np.float32) for x in triple) for triple in triples)


def rasterize(
    vertices: np.ndarray,
    faces: np.ndarray,
    K: np.ndarray,
    image_size: Tuple[int, int],
    cullable: Optional[np.ndarray] = None,
) -> Raster:
    """Visible face, depth and barycentrics per pixel.

    vertices: (N, 3) m, camera frame (OpenCV); faces: (F, 3) vertex indices; K: (3, 3) px;
    image_size: (W, H) px; cullable: (F,) bool, faces of closed, outward-oriented (counter-clockwise
    seen from outside) surfaces that are skipped when they face away from the camera.
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    if vertices.ndim != 2 or vertices.shape[1] != 3:
        raise ValueError(f"vertices must be (N, 3), got {vertices.shape}")
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise ValueError(f"faces must be (F, 3), got {faces.shape}")
    width, height = (int(v) for v in image_size)
    face_buffer = np.full(height * width, -1, dtype=np.int64)
    inverse_depth = np.zeros(height * width, dtype=np.float32)

    z = vertices[:, 2]
    safe_z = np.where(z > NEAR_PLANE, z, 1.0)
    u = (K[0, 0] * vertices[:, 0] + K[0, 1] * vertices[:, 1]) / safe_z + K[0, 2]
    v = K[1, 1] * vertices[:, 1] / safe_z + K[1, 2]

    tri_u, tri_v, tri_iz = u[faces], v[faces], 1.0 / safe_z[faces]
    x0 = np.maximum(np.ceil(tri_u.min(axis=1)), 0).astype(np.int64)
    x1 = np.minimum(np.floor(tri_u.max(axis=1)), width - 1).astype(np.int64)
    y0 = np.maximum(np.ceil(tri_v.min(axis=1)), 0).astype(np.int64)
    y1 = np.minimum(np.floor(tri_v.max(axis=1)), height - 1).astype(np.int64)
    denominator = (tri_v[:, 1] - tri_v[:, 2]) * (tri_u[:, 0] - tri_u[:, 2]) + (tri_u[:, 2] - tri_u[:, 1]) * (tri_v[:, 0] - tri_v[:, 2])
    keep = np.all(z[faces] > NEAR_PLANE, axis=1) & (x1 >= x0) & (y1 >= y0) & (np.abs(denominator) > 1e-12)
    if cullable is not None:
        corners = vertices[faces]
        normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
        keep &= ~(np.asarray(cullable, dtype=bool) & (np.einsum("fc,fc->f", normals, corners[:, 0]) > 0))
    inv_den = np.divide(1.0, denominator, out=np.zeros_like(denominator), where=keep)
    ids = np.nonzero(keep)[0]
    if len(ids) > 0:
        span = x1[ids] - x0[ids] + 1
        counts = span * (y1[ids] - y0[ids] + 1)
        # Barycentrics and inverse depth are affine in the pixel offset (column, row) from a face's
        # box corner: value = a * column + b * row + c, with per-face coefficients (float32 per pixel).
        coefficients = _affine_coefficients(tri_u[ids], tri_v[ids], tri_iz[ids], inv_den[ids], x0[ids], y0[ids])
        owner = np.repeat(np.arange(len(ids), dtype=np.int32), counts)
        offset = np.arange(int(counts.sum()), dtype=np.int32) - np.repeat((np.cumsum(counts) - counts).astype(np.int32), counts)
        row, column = np.divmod(offset, span.astype(np.int32)[owner])
        fcol, frow = column.astype(np.float32), row.astype(np.float32)
        w0, w1, iz = (a[owner] * fcol + b[owner] * frow + c[owner] for a, b, c in coefficients)
        inside = (w0 >= -_EDGE_EPS) & (w1 >= -_EDGE_EPS) & (w0 + w1 <= 1 + _EDGE_EPS)
        owner, iz = owner[inside], iz[inside]
        pixel = (y0[ids][owner] + row[inside]) * width + x0[ids][owner] + column[inside]
        np.maximum.at(inverse_depth, pixel, iz)
        winner = iz >= inverse_depth[pixel]
        face_buffer[pixel[winner]] = ids[owner[winner]]

    pixels = np.flatnonzero(face_buffer >= 0)
    face = face_buffer[pixels]
    py, px = np.divmod(pixels, width)
    w0, w1, w2 = _edge_weights(tri_u[face], tri_v[face], inv_den[face], px.astype(np.float64), py.astype(np.float64))
    # Perspective-correct barycentrics: screen weights scaled by each corner's inverse depth.
    weighted = np.stack((w0 * tri_iz[face, 0], w1 * tri_iz[face, 1], w2 * tri_iz[face, 2]), axis=1)
    barycentric = weighted / weighted.sum(axis=1, keepdims=True)
    depth = np.full(height * width, np.inf)
    depth[pixels] = 1.0 / inverse_depth[pixels]
    return Raster(
        face=face_buffer.reshape(height, width),
        depth=depth.reshape(height, width),
        pixels=pixels,
        barycentric=barycentric,
    )
