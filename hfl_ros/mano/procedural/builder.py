"""The mesh builder: vertices with the metadata the rig is computed from (chain, ring centre, arc length,
palm parameter, knuckle membership), faces from ring strips, zipped loops and fans, and a consistent
outward orientation of the finished surface."""

from typing import Dict, List, Sequence, Tuple

import numpy as np


def unit(vector: Sequence[float]) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float64)
    return vector / np.linalg.norm(vector)


def ring_angles(count: int) -> np.ndarray:
    return 2 * np.pi * (np.arange(count) + 0.5) / count


class MeshBuilder:
    """Accumulates vertices with their rig metadata and faces."""

    def __init__(self) -> None:
        self.points: List[np.ndarray] = []
        self.chain: List[int] = []  # -1 palm, 0-3 fingers, 4 thumb
        self.centre: List[np.ndarray] = []  # ring centre (chains), the apex itself, or zero (palm)
        self.s: List[float] = []  # arc length from the chain base; palm: 0
        self.u: List[float] = []  # palm parameter; chains: nan
        self.knuckle_of: List[int] = []  # knuckle-ring vertex: its finger chain, else -1
        self.faces: List[Tuple[int, int, int]] = []

    @property
    def count(self) -> int:
        return len(self.points)

    def add(self, points: np.ndarray, chain: int, centre: np.ndarray, s: float, u: float,
            knuckle_of: Sequence[int] = ()) -> np.ndarray:
        points = np.atleast_2d(points)
        ids = np.arange(self.count, self.count + len(points))
        centres = np.broadcast_to(centre, points.shape)
        knuckles = list(knuckle_of) if len(knuckle_of) else [-1] * len(points)
        for point, middle, knuckle in zip(points, centres, knuckles):
            self.points.append(np.array(point))
            self.chain.append(chain)
            self.centre.append(np.array(middle))
            self.s.append(s)
            self.u.append(u)
            self.knuckle_of.append(knuckle)
        return ids

    def quad_strip(self, lower: Sequence[int], upper: Sequence[int], skip: Sequence[int] = ()) -> None:
        """Quads between two aligned loops of equal size; ``skip``: quad indices left open."""
        count = len(lower)
        for k in range(count):
            if k in skip:
                continue
            a, b = lower[k], lower[(k + 1) % count]
            c, d = upper[(k + 1) % count], upper[k]
            self.faces += [(a, b, c), (a, c, d)]

    def zip_loops(self, lower: Sequence[int], t_lower: np.ndarray, upper: Sequence[int], t_upper: np.ndarray) -> None:
        """Triangle strip between two loops of any sizes, merged by their angular parameter t in [0, 1)."""
        lower = [lower[i] for i in np.argsort(t_lower, kind="stable")]
        upper = [upper[i] for i in np.argsort(t_upper, kind="stable")]
        t_lower, t_upper = np.sort(t_lower, kind="stable"), np.sort(t_upper, kind="stable")
        na, nb = len(lower), len(upper)
        i = j = 0
        while i < na or j < nb:
            next_lower = t_lower[i + 1] if i + 1 < na else t_lower[0] + 1.0
            next_upper = t_upper[j + 1] if j + 1 < nb else t_upper[0] + 1.0
            if j == nb or (i < na and next_lower <= next_upper):
                self.faces.append((lower[i % na], lower[(i + 1) % na], upper[j % nb]))
                i += 1
            else:
                self.faces.append((lower[i % na], upper[(j + 1) % nb], upper[j % nb]))
                j += 1

    def fan(self, loop: Sequence[int], apex: int) -> None:
        for k in range(len(loop)):
            self.faces.append((loop[k], loop[(k + 1) % len(loop)], apex))


def orient_consistently(faces: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Flip faces so that every shared edge runs in opposite directions, then point normals outward."""
    faces = faces.copy()
    edge_faces: Dict[Tuple[int, int], List[int]] = {}
    for index, face in enumerate(faces.tolist()):
        for k in range(3):
            a, b = face[k], face[(k + 1) % 3]
            edge_faces.setdefault((min(a, b), max(a, b)), []).append(index)
    if any(len(owners) > 2 for owners in edge_faces.values()):
        raise RuntimeError("procedural hand mesh is not manifold")

    def directed(index: int) -> set:
        face = faces[index].tolist()
        return {(face[k], face[(k + 1) % 3]) for k in range(3)}

    visited = np.zeros(len(faces), dtype=bool)
    for seed in range(len(faces)):
        if visited[seed]:
            continue
        visited[seed] = True
        stack = [seed]
        while stack:
            current = stack.pop()
            for a, b in directed(current):
                for other in edge_faces[(min(a, b), max(a, b))]:
                    if other == current:
                        continue
                    clash = (a, b) in directed(other)
                    if visited[other]:
                        if clash:
                            raise RuntimeError("procedural hand mesh is not orientable")
                        continue
                    if clash:
                        faces[other] = faces[other][::-1]
                    visited[other] = True
                    stack.append(other)
    corners = points[faces]
    # Signed volume about the wrist-ring centre (the origin), where closing the wrist hole adds nothing.
    volume = np.einsum("fi,fi->f", corners[:, 0], np.cross(corners[:, 1], corners[:, 2])).sum() / 6
    return faces if volume > 0 else faces[:, ::-1].copy()
