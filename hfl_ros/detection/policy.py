"""Where each frame's hand and object boxes come from (pure logic: no ROS, no model, no detector import).

Hand boxes, in order of preference:

1. ``external``: the latest ROIs of an external detector, when their stamp is within `external_max_age`;
2. ``detector``: the built-in hand detector's landmark box (the 21 landmarks' box x1.1, the network's
   convention), every `detect_every` frames (default: every frame; the detector's video mode follows the
   landmarks from frame to frame and runs palm detection only when it has lost them), searching crops around
   the tracked hands (hints) and, when a wanted hand is missing, a grid (`detection_request`);
3. ``tracking``: where the detector does not see a tracked hand, the previous frame's 2D joints of the
   network, boxed as it was trained (joints' box x1.1, here also x `tracking_margin`) and moved by the
   hand's velocity, only while they are plausible (`hfl_ros.detection.tracks.fallback_problem`: area and
   aspect change per frame, the joints' spread, their agreement with the landmarks, the network's hand
   score); an implausible track ends (`counts["track_ends"][reason]`) and the frame takes a detection
   elsewhere or has no hand: a box never shrinks to a dot;
4. ``roi``: a configured initial box (fractions of the image), the last resort; without one, a frame with
   nothing found has no hand.

Hands: up to `max_hands` (1 or 2), one track per side ("right" / "left", `hfl_ros.detection.tracks`).
Each detector run continues the tracks by position (predicted box overlap, landmark distance) with a
handedness bonus, so that crossing hands do not swap; a track's side follows its handedness votes with
hysteresis (`side_hysteresis`), not a single detection; a new, larger `track_id` after a track ended. Which
hand comes first (and, with one hand, which is followed): `hand_selection` among them: "right" or "left"
(that side only), "larger", or "holding" (the hand whose box overlaps its own tracked, or the external,
object box most; else the larger). `hand_side` forces the side (one hand only).

Object box (per hand): ``external``; else ``tracking`` (the previous frame's control points of that hand's
track); else ``hand``: a region centred on the hand box, `object_from_hand_scale` times its size (a held
object overlaps the hand), refined in the same frame from the object decoder's own control points
(``refined``): another pass when the refined box's IoU with the one used is below `refine_min_iou`, at most
`refine_max_passes` passes (`hfl_ros.inference.tracking.refine_object_boxes`).

Times are seconds (image stamps); boxes are [x1, y1, x2, y2] px of the image.
"""

from dataclasses import dataclass, replace
from typing import Callable, Collection, Dict, List, Optional, Sequence, Tuple

import numpy as np

from hfl_ros.constants import HAND_BOX_EXPANSION
from hfl_ros.detection.hand_detector import DetectionRequest, HandDetection
from hfl_ros.detection.tracks import (
    END_LOST, END_NOT_CONFIRMED, END_REDETECTED, END_SIDE, END_STALE, SIDES, HandTrack, Plausibility, SideVotes,
    associate, fallback_problem,
)
from hfl_ros.geometry.boxes import box_area, box_centre, box_iou, clip_box, fraction_box, resize_box
from hfl_ros.geometry.camera import points_box, project_points, transform_points
from hfl_ros.results import HandObjectEstimate, ObjectEstimate

SOURCE_EXTERNAL = "external"
SOURCE_DETECTOR = "detector"
SOURCE_TRACKING = "tracking"
SOURCE_ROI = "roi"
SOURCE_HAND = "hand"
SOURCE_REFINED = "refined"
HAND_BOX_SOURCES = (SOURCE_EXTERNAL, SOURCE_DETECTOR, SOURCE_TRACKING, SOURCE_ROI)
OBJECT_BOX_SOURCES = (SOURCE_EXTERNAL, SOURCE_TRACKING, SOURCE_HAND, SOURCE_REFINED, SOURCE_ROI)
HAND_SELECTIONS = ("right", "left", "larger", "holding")
HAND_SIDES = ("auto", "right", "left")

def roi_fractions(name: str, value: Optional[Sequence[float]]) -> Optional[Tuple[float, ...]]:
    """A box given as fractions of the image, checked (ValueError naming `name`); None for none or empty."""
    if value is None or len(value) == 0:
        return None
    box = tuple(float(v) for v in value)
    if len(box) != 4 or not all(0.0 <= v <= 1.0 for v in box) or box[2] <= box[0] or box[3] <= box[1]:
        raise ValueError(f"{name} must be [x1, y1, x2, y2] fractions of the image in [0, 1] with x2 > x1, "
                         f"y2 > y1 (or empty for none), got {list(value)}")
    return box


@dataclass(frozen=True)
class PolicySettings:
    """How boxes are chosen (see the module docstring for the order).

    detect_every: frames between detector runs while every wanted hand is tracked (1 = every frame, the
        landmarks as each frame's box; 0 = only when a hand is missing); while fewer than max_hands hands are
        tracked it runs on every frame.
    max_hands: hands followed at once, 1 or 2 (one per side).
    search_every: frames between grid searches for a missing hand while another is tracked (without any
        track the grid is searched on every detector run).
    hand_selection: one of HAND_SELECTIONS; hand_side: one of HAND_SIDES ("right" / "left" need max_hands 1).
    track_min_iou: IoU of the predicted box with a detection that continues the track (one that overlaps
        less continues it too when it covers most of the smaller box, or its centre lies within a hand size:
        `hfl_ros.detection.tracks.match_score`).
    max_unconfirmed: detector runs in a row that do not see a tracked hand before its track ends.
    side_decay, side_hysteresis: handedness votes decay by side_decay per detection; a track changes side
        when the other side's votes lead by more than side_hysteresis (about that many confident frames).
    tracking_max_age: s without a box before a track ends; tracking_min_hand_score: the network's hand score
        needed for its joints to box the hand; tracking_min_object_score: the object score needed for its
        control points to box the object.
    track_max_area_change, track_max_aspect_change, track_min_spread, track_max_landmark_error: the
        plausibility bounds of the network's joints as a fallback box (`hfl_ros.detection.tracks.Plausibility`).
    tracking_margin: the tracked hand box is the joints' box x HAND_BOX_EXPANSION x this (room for motion).
    object_tracking_margin: the tracked object box is the control points' box x this.
    object_from_hand_scale: size of the hand-centred object region, relative to the hand box.
    refine_max_passes, refine_min_iou: the same-frame refinement of a hand-centred object box.
    refine_min_score, refine_min_points: control points (decoder confidence >= min score) needed to box
        the object when PnP found no pose.
    external_max_age: s, largest |image stamp - ROI stamp|.
    initial_hand_roi, initial_object_roi: fractions of the image; None = no last-resort box.
    min_box_size: px, smallest side of a box given to the network.
    """

    detect_every: int = 1
    max_hands: int = 1
    search_every: int = 10
    hand_selection: str = "larger"
    hand_side: str = "auto"
    track_min_iou: float = 0.3
    max_unconfirmed: int = 3
    side_decay: float = 0.98
    side_hysteresis: float = 2.0
    tracking_max_age: float = 0.5
    tracking_min_hand_score: float = Plausibility.min_hand_score
    tracking_min_object_score: float = 0.0
    tracking_margin: float = 1.2
    object_tracking_margin: float = 1.1
    object_from_hand_scale: float = 2.0
    refine_max_passes: int = 3
    refine_min_iou: float = 0.7
    refine_min_score: float = 0.5
    refine_min_points: int = 4
    external_max_age: float = 0.1
    initial_hand_roi: Optional[Tuple[float, ...]] = None
    initial_object_roi: Optional[Tuple[float, ...]] = None
    min_box_size: float = 24.0
    track_max_area_change: float = Plausibility.max_area_change
    track_max_aspect_change: float = Plausibility.max_aspect_change
    track_min_spread: float = Plausibility.min_spread
    track_max_landmark_error: float = Plausibility.max_landmark_error

    @property
    def plausibility(self) -> Plausibility:
        """The bounds of the network's joints as a fallback box."""
        return Plausibility(self.track_max_area_change, self.track_max_aspect_change, self.track_min_spread,
                            self.track_max_landmark_error, self.tracking_min_hand_score)

    def __post_init__(self) -> None:
        if self.hand_selection not in HAND_SELECTIONS:
            raise ValueError(f"hand_selection must be one of {HAND_SELECTIONS}, got {self.hand_selection!r}")
        if self.hand_side not in HAND_SIDES:
            raise ValueError(f"hand_side must be one of {HAND_SIDES}, got {self.hand_side!r}")
        if self.max_hands not in (1, 2):
            raise ValueError(f"max_hands must be 1 or 2, got {self.max_hands}")
        if self.max_hands == 2 and self.hand_side != "auto":
            raise ValueError(f"max_hands 2 follows one right and one left hand: hand_side must be 'auto', "
                             f"got {self.hand_side!r}")
        for name in ("detect_every", "max_unconfirmed", "search_every"):
            if int(getattr(self, name)) != getattr(self, name) or getattr(self, name) < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {getattr(self, name)}")
        if not 0.0 < self.side_decay <= 1.0:
            raise ValueError(f"side_decay must be in (0, 1], got {self.side_decay}")
        for name in ("track_max_area_change", "track_max_aspect_change"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 1.0:
                raise ValueError(f"{name} must be a ratio >= 1, got {value}")
        for name in ("track_min_spread", "track_max_landmark_error"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value}")
        if not np.isfinite(self.side_hysteresis) or self.side_hysteresis < 0:
            raise ValueError(f"side_hysteresis must be a finite number >= 0, got {self.side_hysteresis}")
        if int(self.refine_max_passes) != self.refine_max_passes or self.refine_max_passes < 1:
            raise ValueError(f"refine_max_passes must be an integer >= 1, got {self.refine_max_passes}")
        for name in ("track_min_iou", "refine_min_iou", "refine_min_score"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        for name in ("tracking_margin", "object_tracking_margin", "object_from_hand_scale"):
            value = getattr(self, name)
            if not np.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be a positive number, got {value}")
        for name in ("tracking_max_age", "external_max_age", "min_box_size"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value}")
        object.__setattr__(self, "initial_hand_roi", roi_fractions("initial_hand_roi", self.initial_hand_roi))
        object.__setattr__(self, "initial_object_roi", roi_fractions("initial_object_roi", self.initial_object_roi))


@dataclass(frozen=True)
class SourcedBox:
    """A box (4,) px and where it came from (one of HAND_BOX_SOURCES or OBJECT_BOX_SOURCES)."""

    box: np.ndarray
    source: str


@dataclass(frozen=True)
class HandTarget:
    """A hand to estimate in a frame: its box, its side ("right" / "left"), the detection behind it (None
    when the detector did not see it this frame) and its track's id (>= 1; -1 = no track)."""

    box: SourcedBox
    side: str
    detection: Optional[HandDetection] = None
    track_id: int = -1


@dataclass(frozen=True)
class ExternalRois:
    """Boxes from an external detector for the image stamped `stamp` (s); each (4,) px or None.

    object_class: registry name of the object ("" = not given); side: "right" / "left" ("" = not given).
    """

    stamp: float
    hand_box: Optional[np.ndarray]
    object_box: Optional[np.ndarray]
    object_class: str = ""
    side: str = ""


def object_box_from_estimate(obj: ObjectEstimate, K: np.ndarray, control_points: np.ndarray,
                             min_score: float = 0.5, min_points: int = 4) -> Optional[np.ndarray]:
    """The object box (4,) px seen by an estimate, as the network's object boxes are made (unexpanded).

    With a pose: the box of the 21 control points (21, 3) m, object frame, projected with K (3, 3) (when all
    lie in front of the camera). Without: the box of the decoder's 2D control points whose confidence is at
    least `min_score`, if there are `min_points` of them. Else None.
    """
    if obj.has_pose:
        camera_points = transform_points(np.asarray(control_points, dtype=np.float64), obj.rotation, obj.translation)
        if np.all(camera_points[:, 2] > 0):
            return points_box(project_points(camera_points, K))
    confident = np.asarray(obj.control_point_scores) >= min_score
    points = np.asarray(obj.control_points_2d)[confident]
    if len(points) < max(min_points, 1) or not np.all(np.isfinite(points)):
        return None
    return points_box(points)


def select_hand(detections: Sequence[HandDetection], selection: str, side_of: Callable[[HandDetection], str],
                object_box: Optional[np.ndarray] = None) -> Optional[HandDetection]:
    """The detection to follow: by side ("right" / "left": that side only, the larger), "larger", or
    "holding" (largest overlap with `object_box` (4,) px relative to the hand's area; the larger without one)."""
    candidates = list(detections)
    if selection in ("right", "left"):
        candidates = [detection for detection in candidates if side_of(detection) == selection]
    if not candidates:
        return None
    if selection == "holding" and object_box is not None:
        def held(detection: HandDetection) -> float:
            box = detection.box
            overlap = np.clip(np.minimum(box[2:], object_box[2:]) - np.maximum(box[:2], object_box[:2]), 0, None)
            return float(overlap.prod()) / max(box_area(box), 1e-9)
        best = max(candidates, key=held)
        if held(best) > 0:
            return best
    return max(candidates, key=lambda detection: box_area(detection.box))


def frame_object_name(external: Optional[ExternalRois], parameter: str, known: Collection[str]) -> Tuple[str, Optional[str]]:
    """The object of a frame: the external ROI's class when given and registered, else the `object` parameter.

    Returns (name, warning): warning names an external class that is not in `known` (None otherwise).
    """
    if external is None or not external.object_class:
        return parameter, None
    if external.object_class in known:
        return external.object_class, None
    return parameter, (f"external ROI object class {external.object_class!r} is not registered; "
                       f"using {parameter!r}")


class BoxPolicy:
    """Keeps external ROIs and the hand tracks, and picks each frame's hand and object boxes (module docstring).

    Per frame: `detection_request` (run the detector? where, for how many hands?), `choose_hands`,
    `object_start` per hand, then `observe_hands` with the estimates. `counts` holds detector_runs,
    track_losses (tracks ended), reacquisitions (a side found again after its track ended) and track_ends
    (reason -> tracks ended for it, reasons from `hfl_ros.detection.tracks.END_REASONS`).
    Not thread-safe: callers on several threads hold one lock around every call.
    """

    def __init__(self, settings: PolicySettings = PolicySettings(), detector: bool = False) -> None:
        self.settings = settings
        self.detector = bool(detector)
        self._external: Optional[ExternalRois] = None
        self._tracks: Dict[str, HandTrack] = {}
        self._next_id = 1
        self._since_detection = 0
        self._frames = 0
        self._lost_sides: set = set()
        self.counts: Dict[str, object] = {"detector_runs": 0, "track_losses": 0, "reacquisitions": 0,
                                          "track_ends": {}}

    def set_external(self, rois: ExternalRois) -> None:
        self._external = rois

    def reset(self) -> None:
        """Forget external ROIs and the tracks (e.g. when the object or the camera changes)."""
        self._external = None
        self._tracks = {}
        self._since_detection = 0

    def external(self, stamp: float) -> Optional[ExternalRois]:
        """The external ROIs that apply to the image stamped `stamp` (s), or None."""
        rois = self._external
        if rois is not None and abs(stamp - rois.stamp) <= self.settings.external_max_age:
            return rois
        return None

    def _fresh(self, track: HandTrack, stamp: float) -> bool:
        return 0.0 <= stamp - track.stamp <= self.settings.tracking_max_age

    def _end(self, track: HandTrack, reason: str) -> None:
        if self._tracks.get(track.side) is track:
            del self._tracks[track.side]
            self.counts["track_losses"] += 1
            ends = self.counts["track_ends"]
            ends[reason] = ends.get(reason, 0) + 1
            self._lost_sides.add(track.side)

    def _external_hand(self, stamp: float) -> bool:
        external = self.external(stamp)
        return external is not None and external.hand_box is not None

    def detection_request(self, stamp: float) -> Optional[DetectionRequest]:
        """What the detector should do with the image stamped `stamp` (s); None: it need not run.

        Runs every `detect_every` frames, and on every frame while fewer than `max_hands` hands are tracked;
        hints: the live tracks' predicted boxes; the grid is searched while no hand is tracked, and every
        `search_every` frames while fewer than `max_hands` are; the video mode follows `max_hands` hands
        once they are all tracked (it then stops palm detection), all the detector's hands otherwise (to
        choose among them).
        """
        if not self.detector or self._external_hand(stamp):
            return None
        live = [track for track in self._tracks.values() if self._fresh(track, stamp)]
        settings = self.settings
        every = settings.detect_every
        missing = len(live) < settings.max_hands
        if not missing and not (every > 0 and self._since_detection + 1 >= every):
            return None
        search = not live or (missing and settings.search_every > 0 and (self._frames + 1) % settings.search_every == 0)
        follow = None if missing else settings.max_hands
        return DetectionRequest(float(stamp), tuple(track.predicted(stamp) for track in live), search,
                                settings.max_hands, follow)

    def _fitter(self, image_size: Tuple[int, int]) -> Callable[[np.ndarray], Optional[np.ndarray]]:
        """box (4,) px -> the box grown to min_box_size and clipped to the image (None when outside it)."""
        width, height = image_size
        return lambda box: clip_box(box, width, height, self.settings.min_box_size)

    def _external_box(self, stamp: float, part: str,
                      fit: Callable[[np.ndarray], Optional[np.ndarray]]) -> Optional[np.ndarray]:
        """The fitted `part` ("hand_box" / "object_box") of the external ROIs for `stamp`, or None."""
        external = self.external(stamp)
        box = None if external is None else getattr(external, part)
        return None if box is None else fit(box)

    def _side_of(self, detection: HandDetection) -> str:
        return detection.handedness if self.settings.hand_side == "auto" else self.settings.hand_side

    def _default_side(self) -> str:
        return "right" if self.settings.hand_side == "auto" else self.settings.hand_side

    def _start(self, side: str, stamp: float, box: np.ndarray, source: str, reference: np.ndarray,
               detection: Optional[HandDetection] = None) -> HandTrack:
        settings = self.settings
        track = HandTrack(self._next_id, side, SideVotes(side, settings.side_decay, settings.side_hysteresis),
                          float(stamp), box, source, reference)
        track.seen_at(stamp, box_centre(reference))
        self._next_id += 1
        if detection is not None:
            track.confirm(detection)
            track.votes.add(detection.handedness, detection.score)
        if side in self._lost_sides:
            self.counts["reacquisitions"] += 1
            self._lost_sides.discard(side)
        self._tracks[side] = track
        return track

    def _vote(self, track: HandTrack, detection: HandDetection) -> None:
        """Count the detection's handedness for the track; move it to the other side when the votes say so."""
        if self.settings.hand_side != "auto":
            return
        new_side = track.votes.add(detection.handedness, detection.score)
        if new_side is None:
            return
        other = self._tracks.get(new_side)
        if other is not None:
            # both hands started on the wrong sides (the detector labelled both alike at first): swap them
            # when the other one's votes also lean to this one's side; else position continuity wins
            if other.votes.votes[track.side] > other.votes.votes[other.side]:
                track.side, other.side = other.side, track.side
                track.votes.side, other.votes.side = track.side, other.side
                self._tracks[track.side], self._tracks[other.side] = track, other
            return
        if not self._eligible(replace(detection, handedness=new_side)):
            self._end(track, END_SIDE)
            return
        del self._tracks[track.side]
        track.side = track.votes.side = new_side
        self._tracks[new_side] = track

    def _eligible(self, detection: HandDetection) -> bool:
        """Whether a detection may start a track: with one hand, `hand_selection` "right" / "left" takes that
        side only (with two, the selection only orders the hands)."""
        selection = self.settings.hand_selection
        return self.settings.max_hands > 1 or selection not in SIDES or self._side_of(detection) == selection

    def _takes_over(self, track: HandTrack, detection: HandDetection) -> bool:
        """Whether an unmatched detection is this track's hand seen elsewhere (so the track ends): one of its
        side (another hand in view does not end it)."""
        return self._eligible(detection) and self._side_of(detection) == track.side

    def _start_tracks(self, free: Sequence[HandDetection], stamp: float,
                      fit: Callable[[np.ndarray], Optional[np.ndarray]]) -> None:
        """New tracks from detections that continue none, while fewer than `max_hands` hands are tracked."""
        settings = self.settings
        candidates = [detection for detection in free if self._eligible(detection)]
        if settings.max_hands == 1:
            if self._tracks:
                return
            external = self.external(stamp)
            chosen = select_hand(candidates, settings.hand_selection, self._side_of,
                                 None if external is None else external.object_box)
            candidates = [] if chosen is None else [chosen]
        for detection in sorted(candidates, key=lambda d: -box_area(d.box)):
            if len(self._tracks) >= settings.max_hands:
                return
            side = self._side_of(detection)
            if side in self._tracks:
                # the detector labels both hands alike (it does on renders): the free side, if it is apart
                if any(box_iou(detection.box, track.box) > settings.track_min_iou for track in self._tracks.values()):
                    continue
                side = SIDES[1 - SIDES.index(side)]
            box = fit(detection.box)
            if box is not None:
                self._start(side, stamp, box, SOURCE_DETECTOR, detection.box, detection)

    def _fallback(self, track: HandTrack, stamp: float,
                  fit: Callable[[np.ndarray], Optional[np.ndarray]]) -> None:
        """Box the track from the network's previous joints if they are plausible; else end it."""
        box, reference = track.fallback_box, track.fallback_reference
        track.fallback_box = None
        if track.problem is not None:
            self._end(track, track.problem)
            return
        if box is None:
            self._end(track, END_LOST)
            return
        shift = np.tile(track.velocity * (stamp - track.stamp), 2)
        fitted = fit(box + shift)
        if fitted is None:
            self._end(track, END_LOST)
            return
        track.move_to(stamp, fitted, SOURCE_TRACKING, reference + shift, observed=False)

    def choose_hands(self, stamp: float, image_size: Tuple[int, int],
                     detections: Optional[Sequence[HandDetection]] = None) -> List[HandTarget]:
        """The hands of the image stamped `stamp` (s) of size (W, H) px, primary first: 0..max_hands targets,
        at most one per side. detections: this frame's detector output (None when the detector did not run)."""
        width, height = image_size
        fit = self._fitter(image_size)
        box = self._external_box(stamp, "hand_box", fit)
        if box is not None:
            return [self._external_target(stamp, box)]
        self._frames += 1
        self._since_detection += 1
        for track in list(self._tracks.values()):
            track.detection = None
            if not self._fresh(track, stamp):
                self._end(track, END_STALE)
        boxed = set()
        if detections is not None:
            self.counts["detector_runs"] += 1
            self._since_detection = 0
            tracks = list(self._tracks.values())
            matches = associate(tracks, detections, stamp, self.settings.track_min_iou)
            free = [detection for index, detection in enumerate(detections) if index not in matches]
            for track, index in zip(tracks, matches):
                if index is not None:
                    fitted = fit(detections[index].box)
                    if fitted is None:
                        self._end(track, END_LOST)
                        continue
                    track.confirm(detections[index])
                    track.move_to(stamp, fitted, SOURCE_DETECTOR, detections[index].box, observed=True)
                    boxed.add(track.track_id)
                    self._vote(track, detections[index])
                    continue
                track.unconfirmed += 1
                if track.unconfirmed >= max(self.settings.max_unconfirmed, 1):
                    self._end(track, END_NOT_CONFIRMED)
                elif any(self._takes_over(track, detection) for detection in free):
                    self._end(track, END_REDETECTED)
            for track in list(self._tracks.values()):
                if track.track_id not in boxed:
                    self._fallback(track, stamp, fit)
            self._start_tracks(free, stamp, fit)
        else:
            for track in list(self._tracks.values()):
                self._fallback(track, stamp, fit)
        if not self._tracks and self.settings.initial_hand_roi is not None:
            roi = fraction_box(self.settings.initial_hand_roi, width, height)
            self._start(self._default_side(), stamp, roi, SOURCE_ROI, roi)
        targets = [HandTarget(SourcedBox(track.box, track.source), track.side, track.detection, track.track_id)
                   for track in self._tracks.values()]
        return self._ordered(targets, stamp)

    def _external_target(self, stamp: float, box: np.ndarray) -> HandTarget:
        """The external hand box as the target of its side's track (started when there is none)."""
        side = self.external(stamp).side or self._default_side()
        track = self._tracks.get(side)
        if track is None:
            track = self._start(side, stamp, box, SOURCE_EXTERNAL, box)
        else:
            track.move_to(stamp, box, SOURCE_EXTERNAL, box, observed=True)
        track.detection = None
        return HandTarget(SourcedBox(box, SOURCE_EXTERNAL), side, None, track.track_id)

    def _ordered(self, targets: List[HandTarget], stamp: float) -> List[HandTarget]:
        """The targets with the primary one (by `hand_selection`) first."""
        if len(targets) < 2:
            return targets
        selection = self.settings.hand_selection
        if selection in SIDES:
            return sorted(targets, key=lambda target: target.side != selection)
        if selection == "holding":
            def held(target: HandTarget) -> float:
                track = self._tracks[target.side]
                external = self.external(stamp)
                object_box = track.object_box
                if external is not None and external.object_box is not None:
                    object_box = external.object_box
                if object_box is None:
                    return 0.0
                box = target.box.box
                overlap = np.clip(np.minimum(box[2:], object_box[2:]) - np.maximum(box[:2], object_box[:2]), 0, None)
                return float(overlap.prod()) / max(box_area(box), 1e-9)
            if any(held(target) > 0 for target in targets):
                return sorted(targets, key=lambda target: -held(target))
        return sorted(targets, key=lambda target: -box_area(target.box.box))

    def _track_of(self, hand: HandTarget) -> Optional[HandTrack]:
        track = self._tracks.get(hand.side)
        return track if track is not None and track.track_id == hand.track_id else None

    def object_start(self, stamp: float, image_size: Tuple[int, int], hand: HandTarget) -> SourcedBox:
        """The object box to start from in the image stamped `stamp` (s), given one of the frame's hands."""
        width, height = image_size
        fit = self._fitter(image_size)
        box = self._external_box(stamp, "object_box", fit)
        if box is not None:
            return SourcedBox(box, SOURCE_EXTERNAL)
        track = self._track_of(hand)
        if hand.box.source in (SOURCE_DETECTOR, SOURCE_TRACKING) and track is not None and track.object_box is not None:
            shift = np.tile(track.velocity * (stamp - track.object_stamp), 2)
            box = fit(track.object_box + shift)
            if box is not None:
                return SourcedBox(box, SOURCE_TRACKING)
        if hand.box.source == SOURCE_ROI and self.settings.initial_object_roi is not None:
            return SourcedBox(fraction_box(self.settings.initial_object_roi, width, height), SOURCE_ROI)
        hand_box = hand.box.box
        size = (hand_box[2:] - hand_box[:2]) * self.settings.object_from_hand_scale
        box = fit(resize_box(hand_box, size))
        return SourcedBox(hand_box if box is None else box, SOURCE_HAND)

    def observe_hands(self, stamp: float, results: Sequence[Tuple[HandTarget, Optional[HandObjectEstimate]]],
                      K: np.ndarray, control_points: np.ndarray) -> None:
        """Judge each hand's estimate as next frame's fallback and seed its object tracking.

        results: (target, its estimate or None when nothing was estimated) per hand of `choose_hands`;
        K: (3, 3) intrinsics of the image; control_points: (21, 3) m, object frame, of the frame's object.
        """
        settings = self.settings
        for hand, estimate in results:
            track = self._track_of(hand)
            if track is None or estimate is None:
                continue
            joints = np.asarray(estimate.hand.joints_2d, dtype=np.float64)
            track.problem = fallback_problem(track, joints, estimate.hand.score, hand.box.box, settings.plausibility)
            track.fallback_box = track.fallback_reference = None
            if track.problem is None:
                track.fallback_box = points_box(joints, HAND_BOX_EXPANSION * settings.tracking_margin)
                track.fallback_reference = points_box(joints, HAND_BOX_EXPANSION)
                if track.detection is None and track.source != SOURCE_EXTERNAL:
                    track.seen_at(stamp, box_centre(track.fallback_reference))
            object_box = None
            if estimate.object.score >= settings.tracking_min_object_score:
                object_box = object_box_from_estimate(estimate.object, K, control_points, settings.refine_min_score,
                                                      settings.refine_min_points)
            if object_box is not None:
                object_box = resize_box(object_box, (object_box[2:] - object_box[:2]) * settings.object_tracking_margin)
            track.object_box, track.object_stamp = object_box, float(stamp)
