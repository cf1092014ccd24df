"""Hand tracks for the box policy: identity over frames, the side by handedness votes, and when the network's
own joints may stand in for the landmarks (pure logic: no ROS, no model, no detector import).

A track follows one hand. Each frame it takes the detection that continues it (`associate`: the predicted
box's overlap, or its centre's distance in hand sizes, and the landmarks' distance, with a handedness bonus
that breaks near ties, so that hands that cross or touch do not swap), and its side follows the detector's
handedness votes with hysteresis (`SideVotes`), not any single detection. Where the detector does not see
the hand, the network's 2D joints of the previous frame may box it, but only while `fallback_problem` finds
them plausible: the box's area and aspect change from the previous box, the joints' spread, their agreement
with the landmarks on the last frame that had both, and the network's hand score.
Otherwise the track ends, with the reason counted (END_REASONS).

Boxes are [x1, y1, x2, y2] px of the image; joints and landmarks (21, 2) px; times s (image stamps).
"""

from dataclasses import dataclass, field
from itertools import permutations
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from hfl_ros.constants import HAND_BOX_EXPANSION
from hfl_ros.detection.hand_detector import HandDetection
from hfl_ros.geometry.boxes import box_area, box_centre, box_iou
from hfl_ros.geometry.camera import points_box

SIDES = ("right", "left")
#: Why a track ends (keys of BoxPolicy.counts["track_ends"]).
END_LOST = "lost"                        # the network gave no usable joints / no box inside the image
END_NOT_CONFIRMED = "not_confirmed"      # the detector has not seen it for max_unconfirmed runs in a row
END_REDETECTED = "redetected"            # the detector sees the hand elsewhere (and not at the track)
END_STALE = "stale"                      # nothing for longer than tracking_max_age (or the stamp went back)
END_AREA = "implausible_area"
END_ASPECT = "implausible_aspect"
END_SPREAD = "implausible_spread"
END_DISAGREEMENT = "landmark_disagreement"
END_HAND_SCORE = "low_hand_score"
END_SIDE = "side_changed"                # its votes moved it to a side the policy does not follow
END_REASONS = (END_LOST, END_NOT_CONFIRMED, END_REDETECTED, END_STALE, END_AREA, END_ASPECT, END_SPREAD,
               END_DISAGREEMENT, END_HAND_SCORE, END_SIDE)
#: Score bonus of a detection whose handedness agrees with the track's side (scaled by its confidence).
SIDE_BONUS = 0.2
#: A detection covering this fraction of the smaller of its box and the predicted box may continue a track
#: whatever their IoU (a hand entering the view grows from its fingertips to the whole hand in a few frames).
MIN_COVER = 0.7
#: A detection whose centre lies within this many hand sizes (the longest side of its box and the predicted
#: box) of the predicted box's centre may continue a track whatever their overlap: a hand moving
#: fast, or turning, moves off a constant-velocity prediction by a good part of its size in one frame
#: (render_sequence(18, 12) at 30 fps: 60 % of the box per frame, the direction turning 30 degrees a frame;
#: a young track has no velocity yet), and the landmark box of a partly fitted hand is smaller than the hand.
#: Farther is a jump: the detector sees a hand elsewhere and the track ends (END_REDETECTED).
MAX_JUMP = 1.0


@dataclass(frozen=True)
class Plausibility:
    """Bounds within which the network's joints may box a hand the detector does not see.

    max_area_change, max_aspect_change: largest ratio (either way) of the joints' box area / aspect (w / h) to
        the previous frame's box; min_spread: smallest RMS distance of the joints from their mean, as a
        fraction of the larger side of the box they were estimated in; max_landmark_error: largest mean
        distance between the joints and the landmarks (frames with both), as a fraction of the landmarks'
        box's larger side; min_hand_score: the network's hand score.

    The detector's hand presence score is not among them: MediaPipe's Tasks API does not report it; the
    landmarker itself drops a hand whose presence falls below `DetectorSettings.min_presence_confidence`
    (in video mode it then runs palm detection again), so a hand it reports has passed it.
    """

    max_area_change: float = 1.5
    max_aspect_change: float = 1.5
    min_spread: float = 0.12
    max_landmark_error: float = 0.3
    min_hand_score: float = 0.0


@dataclass
class SideVotes:
    """Handedness votes of one track: each detection adds its confidence to its label, older votes decay by
    `decay` per detection; the side changes when the other side leads by more than `hysteresis`, or, while
    the current side has fewer votes than that (a young track, e.g. one first seen as a few fingertips), by
    more than the current side's votes."""

    side: str
    decay: float
    hysteresis: float
    votes: Dict[str, float] = field(default_factory=lambda: {side: 0.0 for side in SIDES})

    def add(self, handedness: str, score: float) -> Optional[str]:
        """Count one detection; returns the side the votes now call for when it differs from `side`, else None."""
        for side in SIDES:
            self.votes[side] *= self.decay
        if handedness in self.votes:
            self.votes[handedness] += float(score)
        other = SIDES[1 - SIDES.index(self.side)]
        margin = min(self.hysteresis, self.votes[self.side])
        return other if self.votes[other] - self.votes[self.side] > margin else None


@dataclass
class HandTrack:
    """One followed hand.

    track_id: its identity (>= 1); side: "right" / "left" (decided by `votes`); stamp: s, last frame it was boxed;
    box: (4,) px, the box used then (source `source`); reference: (4,) px, the hand's unmargined box that frame
    (landmarks' or joints' box x HAND_BOX_EXPANSION); velocity: (2,) px/s of the hand's centre between its last two
    observations (landmarks, else the network's joints), the last at seen_stamp (s), seen_centre (2,) px; landmarks:
    (21, 2) px of its last detection; detection: this frame's detection (None when the detector did not see it);
    agrees: whether the network's joints agreed with the landmarks on the last frame with both (None: never
    compared); fallback_box: (4,) px, next frame's box from this frame's joints (x HAND_BOX_EXPANSION x the tracking
    margin; None: none) and fallback_reference (4,) px the same without the margin; problem: the END_* reason that
    forbids the fallback (None: plausible); unconfirmed: detector runs in a row without it; object_box: (4,) px, the
    object the network saw with this hand at object_stamp (s) (None: none).
    """

    track_id: int
    side: str
    votes: SideVotes
    stamp: float
    box: np.ndarray
    source: str
    reference: np.ndarray
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))
    seen_stamp: Optional[float] = None
    seen_centre: Optional[np.ndarray] = None
    landmarks: Optional[np.ndarray] = None
    detection: Optional[HandDetection] = None
    agrees: Optional[bool] = None
    fallback_box: Optional[np.ndarray] = None
    fallback_reference: Optional[np.ndarray] = None
    problem: Optional[str] = None
    unconfirmed: int = 0
    object_box: Optional[np.ndarray] = None
    object_stamp: float = 0.0

    def predicted(self, stamp: float) -> np.ndarray:
        """The box (4,) px moved by the velocity to `stamp` (s)."""
        shift = self.velocity * (stamp - self.stamp)
        return self.box + np.concatenate((shift, shift))

    def move_to(self, stamp: float, box: np.ndarray, source: str, reference: np.ndarray, observed: bool) -> None:
        """The track boxed at `stamp` (s) with `box` (4,) px from `source`; reference: (4,) px, the unmargined
        box; observed: whether it is where the hand was seen (landmarks), not a prediction."""
        self.stamp, self.box, self.source, self.reference = float(stamp), box, source, reference
        if observed:
            self.seen_at(stamp, box_centre(reference))

    def seen_at(self, stamp: float, centre: np.ndarray) -> None:
        """The hand's centre (2,) px was observed at `stamp` (s): the velocity follows."""
        if self.seen_stamp is not None and stamp > self.seen_stamp:
            self.velocity = (centre - self.seen_centre) / (stamp - self.seen_stamp)
        self.seen_stamp, self.seen_centre = float(stamp), np.asarray(centre, dtype=np.float64)

    def confirm(self, detection: HandDetection) -> None:
        """The detector saw this hand (its landmarks are this frame's)."""
        self.detection, self.landmarks = detection, detection.landmarks
        self.unconfirmed = 0


def _landmark_distance(track: HandTrack, detection: HandDetection, stamp: float) -> float:
    """Mean distance of the detection's landmarks from the track's last ones moved by its velocity, in units of
    the track's box's larger side; 0 without landmarks."""
    if track.landmarks is None:
        return 0.0
    moved = track.landmarks + track.velocity * (stamp - track.stamp)
    side = max(float(np.max(track.reference[2:] - track.reference[:2])), 1e-9)
    return float(np.mean(np.linalg.norm(detection.landmarks - moved, axis=1))) / side


def match_score(track: HandTrack, detection: HandDetection, stamp: float, min_iou: float) -> Optional[float]:
    """How well a detection continues a track at `stamp` (s), or None when its box overlaps the predicted box
    less than `min_iou`, covers less than MIN_COVER of the smaller box and lies farther than MAX_JUMP hand
    sizes from it (`jump`): overlap (IoU), minus the landmarks' distance, plus SIDE_BONUS x confidence when the
    detection's handedness is the track's side."""
    predicted = track.predicted(stamp)
    iou = box_iou(predicted, detection.box)
    if iou < min_iou and _cover(predicted, detection.box) < MIN_COVER and jump(predicted, detection.box) > MAX_JUMP:
        return None
    bonus = SIDE_BONUS * detection.score if detection.handedness == track.side else 0.0
    return iou - _landmark_distance(track, detection, stamp) + bonus


def jump(box_a: np.ndarray, box_b: np.ndarray) -> float:
    """Distance between the centres of two boxes (4,) px, in units of the longest side of either box."""
    size = max(float(np.max(box_a[2:] - box_a[:2])), float(np.max(box_b[2:] - box_b[:2])), 1e-9)
    return float(np.linalg.norm(box_centre(box_a) - box_centre(box_b))) / size


def _cover(box_a: np.ndarray, box_b: np.ndarray) -> float:
    """Intersection of two boxes (4,) px over the smaller one's area."""
    overlap = np.clip(np.minimum(box_a[2:], box_b[2:]) - np.maximum(box_a[:2], box_b[:2]), 0, None)
    return float(overlap.prod()) / max(min(box_area(box_a), box_area(box_b)), 1e-9)


def associate(tracks: Sequence[HandTrack], detections: Sequence[HandDetection], stamp: float,
              min_iou: float) -> List[Optional[int]]:
    """For each track, the index of the detection that continues it (None: none), at most one track per
    detection, maximising the summed `match_score` (all assignments are tried: a few tracks and detections)."""
    best: Tuple[float, int, List[Optional[int]]] = (0.0, 0, [None] * len(tracks))
    slots: List[Optional[int]] = list(range(len(detections))) + [None] * len(tracks)
    for chosen in set(permutations(slots, len(tracks))):
        total, matched = 0.0, 0
        for track, index in zip(tracks, chosen):
            if index is None:
                continue
            score = match_score(track, detections[index], stamp, min_iou)
            if score is None:
                break
            total, matched = total + score, matched + 1
        else:
            if (matched, total) > (best[1], best[0]):
                best = (total, matched, list(chosen))
    return best[2]


def joints_spread(joints: np.ndarray) -> float:
    """RMS distance (px) of joints (21, 2) px from their mean."""
    return float(np.sqrt(np.mean(np.sum((joints - joints.mean(axis=0)) ** 2, axis=1))))


def _ratio_beyond(value: float, reference: float, limit: float) -> bool:
    ratio = value / max(reference, 1e-9)
    return not 1.0 / limit <= ratio <= limit


def landmark_error(joints: np.ndarray, landmarks: np.ndarray) -> float:
    """Mean distance of joints (21, 2) px from landmarks (21, 2) px, in units of the landmarks' box's larger side."""
    box = points_box(landmarks)
    return float(np.mean(np.linalg.norm(joints - landmarks, axis=1))) / max(float(np.max(box[2:] - box[:2])), 1e-9)


def fallback_problem(track: HandTrack, joints: np.ndarray, hand_score: float, given_box: np.ndarray,
                     bounds: Plausibility) -> Optional[str]:
    """Why the network's joints of this frame may not box the hand next frame (an END_* reason), or None.

    joints: (21, 2) px, the network's 2D joints; hand_score: its hand score; given_box: (4,) px, the box the
    network was given. Updates `track.agrees` when the frame also has landmarks (`track.detection`).
    """
    if not np.all(np.isfinite(joints)):
        return END_LOST
    if track.detection is not None:
        track.agrees = landmark_error(joints, track.detection.landmarks) <= bounds.max_landmark_error
    if track.agrees is False:
        return END_DISAGREEMENT
    if hand_score < bounds.min_hand_score:
        return END_HAND_SCORE
    if joints_spread(joints) < bounds.min_spread * float(np.max(given_box[2:] - given_box[:2])):
        return END_SPREAD
    box = points_box(joints, HAND_BOX_EXPANSION)
    reference = track.reference
    if _ratio_beyond(box_area(box), box_area(reference), bounds.max_area_change):
        return END_AREA
    aspect = (box[2] - box[0]) / max(box[3] - box[1], 1e-9)
    reference_aspect = (reference[2] - reference[0]) / max(reference[3] - reference[1], 1e-9)
    if _ratio_beyond(aspect, reference_aspect, bounds.max_aspect_change):
        return END_ASPECT
    return None
