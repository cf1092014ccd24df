"""A small z-buffered triangle rasteriser in numpy (CPU), for the synthetic scenes.

Pixel (x, y) is sampled at its centre, the continuous coordinate (x, y) (OpenCV convention), so a
point projected with K lands on the pixel that shows it. Depth is resolved per pixel with a z-buffer
on interpolated inverse depth (exact for perspective). Triangles are not culled by orientation.
"""

from dataclasses import dataclass
from typing import Tuple

import numpy as np

#: Triangles with a vertex closer than this to the camera plane are skipped, m.
NEAR_PLANE = 1e-3
#: Tolerance on barycentric coordinates so that shared edges leave no cracks.
_EDGE_EPS = 1e-7


@dataclass
class Raster:
    """Rasterised scene, (H, W) each.

    face: index of the visible face, -1 for background. depth: m along z (inf for background).
    barycentric: (H, W, 3) weights of the visible face's vertices (0 for background).
    """

    face: np.ndarray
    depth: np.ndarray
    barycentric: np.ndarray


def rasterize(vertices: np.ndarray, faces: np.ndarray, K: np.ndarray, image_size: Tuple[int, int]) -> Raster:
    """Visible face, depth and barycentrics per pixel.

    vertices: (N, 3) m, camera frame (OpenCV); faces: (F, 3) vertex indices; K: (3, 3) px;
    image_size: (W, H) px.
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    if vertices.ndim != 2 or vertices.shape[1] != 3:
        raise ValueError(f"vertices must be (N, 3), got {vertices.shape}")
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise ValueError(f"faces must be (F, 3), got {faces.shape}")
    width, height = (int(v) for v in image_size)
    face_buffer = np.full(height * width, -1, dtype=np.int64)
    inverse_depth = np.zeros(height * width)
    weights = np.zeros((height * width, 3))

    z = vertices[:, 2]
    safe_z = np.where(z > NEAR_PLANE, z, 1.0)
    u = (K[0, 0] * vertices[:, 0] + K[0, 1] * vertices[:, 1]) / safe_z + K[0, 2]
    v = K[1, 1] * vertices[:, 1] / safe_z + K[1, 2]

    keep = np.all(z[faces] > NEAR_PLANE, axis=1)
    tri_u, tri_v, tri_iz = u[faces], v[faces], 1.0 / safe_z[faces]
    x0 = np.maximum(np.ceil(tri_u.min(axis=1)), 0).astype(np.int64)
    x1 = np.minimum(np.floor(tri_u.max(axis=1)), width - 1).astype(np.int64)
    y0 = np.maximum(np.ceil(tri_v.min(axis=1)), 0).astype(np.int64)
    y1 = np.minimum(np.floor(tri_v.max(axis=1)), height - 1).astype(np.int64)
    denominator = (tri_v[:, 1] - tri_v[:, 2]) * (tri_u[:, 0] - tri_u[:, 2]) + (tri_u[:, 2] - tri_u[:, 1]) * (tri_v[:, 0] - tri_v[:, 2])
    keep &= (x1 >= x0) & (y1 >= y0) & (np.abs(denominator) > 1e-12)
    ids = np.nonzero(keep)[0]
    if len(ids) > 0:
        span = x1[ids] - x0[ids] + 1
        counts = span * (y1[ids] - y0[ids] + 1)
        owner = np.repeat(np.arange(len(ids)), counts)
        offset = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        px = x0[ids][owner] + offset % span[owner]
        py = y0[ids][owner] + offset // span[owner]
        face = ids[owner]
        du, dv = px - tri_u[face, 2], py - tri_v[face, 2]
        inv_den = 1.0 / denominator[face]
        w0 = ((tri_v[face, 1] - tri_v[face, 2]) * du + (tri_u[face, 2] - tri_u[face, 1]) * dv) * inv_den
        w1 = ((tri_v[face, 2] - tri_v[face, 0]) * du + (tri_u[face, 0] - tri_u[face, 2]) * dv) * inv_den
        w2 = 1.0 - w0 - w1
        inside = (w0 >= -_EDGE_EPS) & (w1 >= -_EDGE_EPS) & (w2 >= -_EDGE_EPS)
        face, px, py, w0, w1, w2 = face[inside], px[inside], py[inside], w0[inside], w1[inside], w2[inside]
        iz = w0 * tri_iz[face, 0] + w1 * tri_iz[face, 1] + w2 * tri_iz[face, 2]
        pixel = py * width + px
        np.maximum.at(inverse_depth, pixel, iz)
        winner = iz >= inverse_depth[pixel]
        pixel, face = pixel[winner], face[winner]
        face_buffer[pixel] = face
        # Perspective-correct barycentrics of the winning fragment.
        weighted = np.stack((w0[winner] * tri_iz[face, 0], w1[winner] * tri_iz[face, 1], w2[winner] * tri_iz[face, 2]), axis=1)
        weights[pixel] = weighted / weighted.sum(axis=1, keepdims=True)

    depth = np.full(height * width, np.inf)
    covered = face_buffer >= 0
    depth[covered] = 1.0 / inverse_depth[covered]
    return Raster(
        face=face_buffer.reshape(height, width),
        depth=depth.reshape(height, width),
        barycentric=weights.reshape(height, width, 3),
    )


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(N, 3) unit normals: area-weighted sums of the adjacent face normals (zero for isolated vertices)."""
    corners = vertices[faces]
    face_normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normals = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(normals, faces[:, k], face_normals)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return np.divide(normals, length, out=np.zeros_like(normals), where=length > 0)
