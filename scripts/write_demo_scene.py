"""Regenerate the bundled demo scene (hfl_ros/assets/demo_scene): the synthetic frame `bundled_sample()`
(seed DEMO_SEED, 640 x 480, procedural hand) with its object mesh.

    .venv/bin/python scripts/write_demo_scene.py [--output hfl_ros/assets/demo_scene]
"""

import argparse
from pathlib import Path

from hfl_ros.data.synthetic import bundled_sample, default_assets, write_scene

BUNDLED_SCENE = Path(__file__).resolve().parent.parent / "hfl_ros" / "assets" / "demo_scene"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=BUNDLED_SCENE, help="scene directory to write")
    args = parser.parse_args()
    image, annotation, masks = bundled_sample()
    paths = write_scene(args.output, image, annotation, masks, default_assets().object_model(annotation.object_name))
    print("\n".join(str(path) for path in paths.values()))


if __name__ == "__main__":
    main()
