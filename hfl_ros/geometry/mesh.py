"""Triangle-mesh operations in numpy: vertex normals, open boundaries and their caps, decimation.

vertices: (N, 3) float, any frame and unit; faces: (F, 3) int vertex indices, counter-clockwise seen
from outside (the normal of a face is (v1 - v0) x (v2 - v0)).
"""

from typing import List, Tuple

import numpy as np

from hfl_ros.geometry.checks import as_numpy


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(N, 3) unit normals: area-weighted sums of the adjacent face normals (zero for isolated vertices)."""
    corners = vertices[faces]
    face_normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normals = np.zeros_like(vertices, dtype=np.float64)
    for k in range(3):
        np.add.at(normals, faces[:, k], face_normals)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return np.divide(normals, length, out=np.zeros_like(normals), where=length > 0)


def boundary_loops(faces: np.ndarray) -> List[np.ndarray]:
    """Vertex loops (arrays of ids, in the direction their edges run in their faces) of the edges that
    belong to one face only."""
    directed = np.concatenate((faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]))
    undirected = np.sort(directed, axis=1)
    _, inverse, counts = np.unique(undirected, axis=0, return_inverse=True, return_counts=True)
    boundary = directed[counts[inverse.reshape(-1)] == 1]
    successor = {int(a): int(b) for a, b in boundary}
    loops = []
    while successor:
        start = next(iter(successor))
        loop = [start]
        current = successor.pop(start)
        while current != start and current in successor:
            loop.append(current)
            current = successor.pop(current)
        loops.append(np.asarray(loop, dtype=np.int64))
    return loops


def boundary_cap(faces: np.ndarray) -> np.ndarray:
    """Faces (B, 3) closing each open boundary loop of a consistently oriented mesh with a fan to a new
    vertex per loop; the new vertices are numbered N, N + 1, ... after the mesh's N = faces.max() + 1
    vertices, one per loop in the order of `boundary_loops`."""
    loops = boundary_loops(faces)
    first_new = int(faces.max()) + 1
    caps = []
    for number, loop in enumerate(loops):
        following = np.roll(loop, -1)
        # A boundary edge runs a -> b in its face, so the cap runs b -> a to keep the orientation.
        caps.append(np.column_stack((following, loop, np.full(len(loop), first_new + number))))
    return np.vstack(caps) if caps else np.zeros((0, 3), dtype=np.int64)


def decimate_mesh(vertices: np.ndarray, faces: np.ndarray, max_faces: int) -> Tuple[np.ndarray, np.ndarray]:
    """Simplify a triangle mesh to at most `max_faces` faces by vertex clustering on a regular grid.

    Returns (vertices (N', 3), faces (F', 3)); unchanged when F <= max_faces. Cluster representatives
    are the mean of their vertices; degenerate and duplicate faces are dropped.
    """
    if max_faces < 4:
        raise ValueError(f"max_faces must be >= 4, got {max_faces}")
    vertices = as_numpy(vertices, "vertices", shape="N,3")
    faces = as_numpy(faces, "faces", shape="F,3", dtype=np.int64)
    if len(faces) <= max_faces:
        return vertices, faces
    extent = float(np.ptp(vertices, axis=0).max())
    best = _cluster(vertices, faces, extent)
    low, high = 0.0, extent
    for _ in range(24):
        cell = (low + high) / 2
        result = _cluster(vertices, faces, cell)
        if len(result[1]) <= max_faces:
            best, high = result, cell
        else:
            low = cell
        if len(best[1]) >= 0.8 * max_faces:
            break
    return best


def _cluster(vertices: np.ndarray, faces: np.ndarray, cell: float) -> Tuple[np.ndarray, np.ndarray]:
    keys = np.floor((vertices - vertices.min(axis=0)) / cell).astype(np.int64)
    _, cluster, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    cluster = cluster.reshape(-1)
    sums = np.zeros((len(counts), 3))
    np.add.at(sums, cluster, vertices)
    new_vertices = sums / counts[:, None]
    new_faces = cluster[faces]
    keep = (new_faces[:, 0] != new_faces[:, 1]) & (new_faces[:, 1] != new_faces[:, 2]) & (new_faces[:, 0] != new_faces[:, 2])
    new_faces = new_faces[keep]
    _, unique_rows = np.unique(np.sort(new_faces, axis=1), axis=0, return_index=True)
    return new_vertices, new_faces[np.sort(unique_rows)]
