"""Judging hand boxes on real footage, where there is no ground truth: the landmark model's own boxes.

`landmark_reference` runs a fresh MediaPipe Hand Landmarker over a clip's frames on its own, independently
of the box policy and of the network: the full frame only, in video mode, no hints, crops or grid, and
boxes its 21 landmarks as the network's hand box is made (x HAND_BOX_EXPANSION). `judge_hands` compares a
run's hand boxes with them frame by frame.
"""

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from hfl_ros.detection.hand_detector import DetectorSettings, HandDetector
from hfl_ros.geometry.boxes import box_iou

#: IoU with a reference box at which a hand box lies on that hand.
ON_HAND_IOU = 0.5


@dataclass(frozen=True)
class ReferenceHand:
    """A hand the landmark model sees on its own: box (4,) px (landmarks' box x1.1), its handedness label."""

    box: np.ndarray
    handedness: str


def landmark_reference(frames: Sequence[np.ndarray], stamps: Sequence[float],
                       num_hands: int = 2) -> List[Tuple[ReferenceHand, ...]]:
    """The hands the landmark model sees in each frame (H, W, 3) uint8 RGB stamped `stamps` (s, increasing)."""
    if len(frames) != len(stamps):
        raise ValueError(f"{len(frames)} frames but {len(stamps)} stamps")
    settings = DetectorSettings(num_hands=num_hands, track_crop_scales=(), grid_levels=())
    seen = []
    with HandDetector(settings) as detector:
        for image, stamp in zip(frames, stamps):
            seen.append(tuple(ReferenceHand(d.box, d.handedness) for d in detector.detect(image, stamp=stamp)))
    return seen


@dataclass(frozen=True)
class FrameJudgement:
    """One frame of a run against the reference.

    seen: hands the reference sees; sources: the box source of each run hand; on_hand: per run hand, whether
    its box has IoU >= ON_HAND_IOU with a reference box; sides: per reference hand, the side of the run hand
    lying on it (None: none), in the reference's order.
    """

    seen: int
    sources: Tuple[str, ...]
    on_hand: Tuple[bool, ...]
    sides: Tuple[Optional[str], ...]


def judge_frame(boxes: Sequence[np.ndarray], sources: Sequence[str], sides: Sequence[str],
                reference: Sequence[ReferenceHand]) -> FrameJudgement:
    """A run's hands in one frame (boxes (4,) px with their sources and sides) against the reference's."""
    on_hand = tuple(any(box_iou(box, hand.box) >= ON_HAND_IOU for hand in reference) for box in boxes)
    matched: List[Optional[str]] = []
    for hand in reference:
        overlaps = [box_iou(box, hand.box) for box in boxes]
        best = int(np.argmax(overlaps)) if overlaps else -1
        matched.append(sides[best] if best >= 0 and overlaps[best] >= ON_HAND_IOU else None)
    return FrameJudgement(len(reference), tuple(sources), on_hand, tuple(matched))


def summarise(judgements: Sequence[FrameJudgement]) -> Dict[str, float]:
    """Over the frames where the reference sees a hand, fractions: `on_hand` (a run hand box lies on a
    reference hand), `missed` (no run hand at all), `all_found` (a run hand box on every reference hand),
    `extra` (a run hand box on none of them: a wrong box, or a hand the reference does not see on its own,
    which the crop search finds); per box source s, `<s>` (frames with a hand box from s) and `<s>_on_hand`
    (frames where such a box lies on a reference hand)."""
    with_hand = [j for j in judgements if j.seen > 0]
    count = max(len(with_hand), 1)
    summary = {
        "frames": float(len(judgements)), "frames_with_hand": float(len(with_hand)),
        "on_hand": sum(any(j.on_hand) for j in with_hand) / count,
        "missed": sum(not j.sources for j in with_hand) / count,
        "all_found": sum(all(side is not None for side in j.sides) for j in with_hand) / count,
        "extra": sum(not all(j.on_hand) for j in with_hand) / count,
    }
    for source in sorted({s for j in with_hand for s in j.sources}):
        summary[source] = sum(source in j.sources for j in with_hand) / count
        summary[f"{source}_on_hand"] = sum(any(s == source and on for s, on in zip(j.sources, j.on_hand))
                                           for j in with_hand) / count
    return summary
