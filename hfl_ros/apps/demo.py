"""`hfl-demo`: estimate hand and object on one stored scene (default: the bundled synthetic sample).

Writes ``result.json`` (the estimate, its errors against the scene's ground truth, timings) and
``overlay.png`` (the estimate, the ground truth in magenta, a legend) into the output directory. Without --checkpoint the network is UNTRAINED and the output
says so; without --mano-dir a procedural MANO-format hand stands in for the user's MANO file.
"""

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from hfl_ros.apps.options import add_inference_arguments, inference_config
from hfl_ros.data.io import write_rgb
from hfl_ros.data.sample import FrameAnnotation
from hfl_ros.data.synthetic import read_scene, read_scene_object, true_boxes
from hfl_ros.evaluation.metrics import mpjpe, pa_mpjpe
from hfl_ros.inference.estimator import HandObjectEstimator
from hfl_ros.inference.overlay import OverlayTruth, draw_estimate
from hfl_ros.results import HandObjectEstimate, estimate_to_dict
from hfl_ros.resources import package_asset
from hfl_ros.mano.procedural import procedural_mano_dir

LOG = logging.getLogger("hfl_ros.demo")
#: Exit status for a missing or unreadable input file (scene, checkpoint, MANO folder) or a bad value.
EXIT_INPUT = 2
BUNDLED_SCENE = package_asset("demo_scene")
UNTRAINED_WARNING = "UNTRAINED WEIGHTS (no --checkpoint): outputs are meaningless"


def scene_boxes(annotation: FrameAnnotation) -> Dict[str, np.ndarray]:
    """Hand and object boxes (px, image) of a scene: the dataset's hand box or the joints' box x1.1,
    and the box of the projected control points."""
    hand, obj = true_boxes(annotation)
    return {"hand": hand if annotation.hand_box is None else annotation.hand_box, "object": obj}


def ground_truth_errors(estimate: HandObjectEstimate, annotation: FrameAnnotation) -> Dict[str, Optional[float]]:
    """Errors of an estimate against the scene's ground truth, mm."""
    joints, truth = estimate.hand.joints, annotation.joints_3d
    errors: Dict[str, Optional[float]] = {
        "hand_mpjpe_camera_mm": float(mpjpe(joints, truth)) * 1e3,
        "hand_mpjpe_root_relative_mm": float(mpjpe(joints - joints[:1], truth - truth[:1])) * 1e3,
        "hand_pa_mpjpe_mm": float(pa_mpjpe(joints, truth)) * 1e3,
        "object_translation_mm": None,
    }
    if estimate.object.has_pose:
        errors["object_translation_mm"] = float(np.linalg.norm(estimate.object.translation - annotation.object_translation)) * 1e3
    return errors


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="hfl-demo", description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, required=True, help="directory for result.json and overlay.png")
    parser.add_argument("--scene", type=Path, default=BUNDLED_SCENE,
                        help="scene directory (rgb.png, annotation.json, object.obj); default: the bundled sample")
    parser.add_argument("--checkpoint", type=Path, help="HFL-Net checkpoint (published or ours)")
    parser.add_argument("--mano-dir", type=Path, help="directory with MANO_RIGHT.pkl (default: procedural hand)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    add_inference_arguments(parser)
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Exit status 0, or EXIT_INPUT with one line naming the bad file or value."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    try:
        return run(args)
    except (FileNotFoundError, ValueError) as error:
        print(f"hfl-demo: {error}", file=sys.stderr)
        return EXIT_INPUT


def run(args: argparse.Namespace) -> int:
    """The demo on parsed arguments (see parse_args); raises FileNotFoundError / ValueError naming bad input."""
    image, annotation, _ = read_scene(args.scene)
    object_model = read_scene_object(args.scene)
    if object_model is None:
        raise FileNotFoundError(f"{args.scene}: the scene has no object.obj")
    args.output.mkdir(parents=True, exist_ok=True)
    mano_dir = args.mano_dir or procedural_mano_dir(args.output / "procedural_mano")
    estimator = HandObjectEstimator.from_files(args.checkpoint, mano_dir, device=args.device,
                                               inference=inference_config(args))
    boxes = scene_boxes(annotation)
    estimate = estimator.estimate(image, annotation.K, boxes["hand"], boxes["object"], object_model)

    result = {
        "scene": str(args.scene),
        "untrained": estimator.untrained,
        "warning": UNTRAINED_WARNING if estimator.untrained else None,
        "mano": "procedural stand-in" if args.mano_dir is None else str(args.mano_dir),
        "device": str(estimator.device),
        "estimate": estimate_to_dict(estimate),
        "errors_against_ground_truth": ground_truth_errors(estimate, annotation),
    }
    (args.output / "result.json").write_text(json.dumps(result, indent=1))
    banner = UNTRAINED_WARNING if estimator.untrained else ""
    truth = OverlayTruth(annotation.joints_3d, annotation.object_rotation, annotation.object_translation)
    write_rgb(args.output / "overlay.png", draw_estimate(image, annotation.K, estimate, object_model, banner, truth))

    errors = result["errors_against_ground_truth"]
    print(f"wrote {args.output / 'result.json'} and {args.output / 'overlay.png'}")
    print(f"{'UNTRAINED weights: ' if estimator.untrained else ''}"
          f"hand PA-MPJPE {errors['hand_pa_mpjpe_mm']:.1f} mm; object pose: "
          f"{'found' if estimate.object.has_pose else 'none (too few confident control points)'}; "
          f"network {estimate.timings['network'] * 1e3:.0f} ms on {estimator.device}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
