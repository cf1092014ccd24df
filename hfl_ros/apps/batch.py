"""`hfl-video INPUT... --output DIR --ray [--ray-address ADDR] [--workers N]`: many inputs on Ray (the `ray` extra).

One task per input (a video, a bag, an image folder or glob): each input runs whole and in order on one
worker (the temporal filter needs its frames in order), exactly as a single `hfl-video INPUT --output
DIR/<input name>` run writes it (trajectory, overlays, --mcap, --lerobot). Workers are Ray actors that load
the network once and take inputs one after another; with GPUs in the cluster each worker holds one. The same
command runs on a local Ray (no address: started here, stopped at the end) and on a cluster (`--ray-address`,
e.g. `ray://head:10001` or `auto`; the workers need hfl_ros installed as here).

A finished input leaves DIR/<input name>/batch_done.json and is skipped by the next run (`--overwrite` runs
it again); an unfinished one resumes where it stopped. A failing input (unreadable, truncated bag, ...) is
reported with its reason while the others go on. At the end one summary: inputs done / skipped / failed,
frames, wall time and frames/s; also written to DIR/batch.json. The exit status is 1 when an input failed.
"""

import argparse
import copy
import json
import logging
import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from hfl_ros.inference.frames import InputError

LOG = logging.getLogger("hfl_ros.batch")
DONE_FILE = "batch_done.json"
SUMMARY_FILE = "batch.json"
#: Where the workers put the procedural MANO hand (without --mano-dir), under DIR.
MANO_DIR = "procedural_mano"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class InputResult:
    """One input's outcome: status "done", "skipped" or "failed"; frames processed this run; seconds spent
    on it by its worker; reason: why it failed ("" otherwise)."""

    input: str
    name: str
    status: str
    frames: int = 0
    seconds: float = 0.0
    reason: str = ""


@dataclass
class BatchSummary:
    """The run's summary: per-input results, wall time (s) and frames/s over the frames processed."""

    results: List[InputResult] = field(default_factory=list)
    wall_seconds: float = 0.0
    workers: int = 0

    def count(self, status: str) -> int:
        return sum(result.status == status for result in self.results)

    @property
    def frames(self) -> int:
        return sum(result.frames for result in self.results)

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def to_dict(self) -> Dict[str, Any]:
        return {"done": self.count("done"), "skipped": self.count("skipped"), "failed": self.count("failed"),
                "frames": self.frames, "wall_seconds": round(self.wall_seconds, 3), "workers": self.workers,
                "frames_per_second": round(self.frames_per_second, 3),
                "inputs": [asdict(result) for result in self.results]}

    def text(self) -> str:
        lines = [f"hfl-video --ray: {self.count('done')} done, {self.count('skipped')} skipped (finished before), "
                 f"{self.count('failed')} failed; {self.frames} frames in {self.wall_seconds:.1f} s "
                 f"({self.frames_per_second:.2f} frames/s, {self.workers} workers)"]
        lines += [f"  FAILED {result.input}: {result.reason}" for result in self.results if result.status == "failed"]
        return "\n".join(lines)


def input_name(item: str) -> str:
    """The results folder name of an input: a file's name without its suffix, a folder's name, a glob's
    pattern with its wildcards replaced."""
    path = Path(item)
    if path.is_file():
        name = path.stem
    elif path.is_dir():
        name = path.name
    else:
        name = _UNSAFE.sub("_", str(item)).strip("_")
    return _UNSAFE.sub("_", name) or "input"


def input_names(items: Sequence[str]) -> List[str]:
    """input_name of each input; raises InputError naming inputs that would share a results folder."""
    names = [input_name(item) for item in items]
    clashes = sorted({name for name in names if names.count(name) > 1})
    if clashes:
        shared = {name: [item for item, other in zip(items, names) if other == name] for name in clashes}
        raise InputError(f"inputs would share a results folder under --output: {shared}; rename them")
    return names


def count_records(trajectory: Path) -> int:
    """Complete lines of a trajectory.jsonl (0 when there is none)."""
    if not trajectory.is_file():
        return 0
    with open(trajectory, "rb") as stream:
        return sum(1 for line in stream if line.endswith(b"\n"))


class VideoWorker:
    """A Ray actor: the network loaded once (`hfl_ros.apps.video.load_estimator`), then one input per call,
    run by `hfl_ros.apps.video.run` as a single run would."""

    def __init__(self, args: argparse.Namespace) -> None:
        from hfl_ros.apps import video

        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        self._video = video
        self._estimator = video.load_estimator(args)

    def process(self, item: str, name: str, args: argparse.Namespace) -> InputResult:
        output = Path(args.output)
        trajectory = output / self._video.TRAJECTORY
        before = 0 if args.overwrite else count_records(trajectory)
        started = time.perf_counter()
        try:
            self._video.run(args, estimator=self._estimator)
        except (Exception, SystemExit) as error:  # reported per input; the other inputs go on
            return InputResult(item, name, "failed", max(count_records(trajectory) - before, 0),
                               time.perf_counter() - started, f"{type(error).__name__}: {error}")
        seconds = time.perf_counter() - started
        result = InputResult(item, name, "done", count_records(trajectory) - before, seconds)
        (output / DONE_FILE).write_text(json.dumps(asdict(result), indent=1))
        return result


def _input_args(args: argparse.Namespace, item: str, output: Path) -> argparse.Namespace:
    single = copy.copy(args)
    single.inputs, single.output, single.ray = [item], output, False
    return single


def _worker_resources(ray: Any, workers: int) -> Dict[str, float]:
    """One GPU per worker where the cluster has GPUs; its CPUs shared among the workers."""
    resources = ray.cluster_resources()
    cpus = max(1, int(resources.get("CPU", 1) // workers))
    return {"num_cpus": cpus, "num_gpus": 1 if resources.get("GPU", 0) >= 1 else 0}


def run_batch(args: argparse.Namespace) -> BatchSummary:
    """Process args.inputs on Ray (see the module docstring); args are hfl-video's with `ray_address` and
    `workers`. Raises InputError for clashing input names and a worker count below 1."""
    try:
        import ray
    except ImportError as error:
        raise InputError(f"--ray needs the `ray` extra (pip install 'hfl_ros[ray]'): {error}") from error
    items = [str(item) for item in args.inputs]
    names = input_names(items)
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    summary = BatchSummary()
    pending: List[Tuple[str, str]] = []
    for item, name in zip(items, names):
        done = output / name / DONE_FILE
        if done.is_file() and not args.overwrite:
            summary.results.append(InputResult(item, name, "skipped"))
        else:
            pending.append((item, name))
    started = time.perf_counter()
    if not pending:
        summary.wall_seconds = time.perf_counter() - started
        return summary
    local = args.ray_address is None
    if not ray.is_initialized():
        ray.init(address=args.ray_address, include_dashboard=False, logging_level=logging.WARNING,
                 **({"num_cpus": max(os.cpu_count() or 1, 1)} if local else {}))
    try:
        gpus = int(ray.cluster_resources().get("GPU", 0))
        workers = args.workers if args.workers is not None else max(gpus, 1)
        if workers < 1:
            raise InputError(f"--workers must be at least 1, got {workers}")
        workers = min(workers, len(pending))
        summary.workers = workers
        worker_args = copy.copy(args)
        if worker_args.mano_dir is None:
            from hfl_ros.mano.procedural import procedural_mano_dir
            worker_args.mano_dir = procedural_mano_dir(output / MANO_DIR)
        actor = ray.remote(VideoWorker).options(**_worker_resources(ray, workers))
        actors = [actor.remote(worker_args) for _ in range(workers)]
        queue = list(pending)
        running: Dict[Any, Tuple[Any, str, str]] = {}

        def submit(worker: Any) -> None:
            item, name = queue.pop(0)
            ref = worker.process.remote(item, name, _input_args(worker_args, item, output / name))
            running[ref] = (worker, item, name)

        for worker in actors[:len(queue)]:
            submit(worker)
        while running:
            (ref,), _ = ray.wait(list(running), num_returns=1)
            worker, item, name = running.pop(ref)
            try:
                result = ray.get(ref)
            except ray.exceptions.RayError as error:  # the worker itself failed (died, could not load the model)
                result = InputResult(item, name, "failed", reason=f"{type(error).__name__}: {error}")
            summary.results.append(result)
            if result.status == "failed":
                LOG.error("%s failed: %s", item, result.reason)
            else:
                LOG.info("%s done: %d frames in %.1f s", item, result.frames, result.seconds)
            if queue:
                submit(worker)
    finally:
        if local:
            ray.shutdown()
    summary.wall_seconds = time.perf_counter() - started
    order = {item: index for index, item in enumerate(items)}
    summary.results.sort(key=lambda result: order[result.input])
    return summary


def main_batch(args: argparse.Namespace) -> int:
    """Run the batch, print its summary, write DIR/batch.json; 1 when an input failed, else 0."""
    summary = run_batch(args)
    (Path(args.output) / SUMMARY_FILE).write_text(json.dumps(summary.to_dict(), indent=1))
    print(summary.text())
    return 1 if summary.count("failed") else 0


def add_batch_arguments(parser: argparse.ArgumentParser) -> None:
    """--ray, --ray-address, --workers on hfl-video's parser."""
    group = parser.add_argument_group("many inputs on Ray (the `ray` extra)")
    group.add_argument("--ray", action="store_true",
                       help="one Ray task per input, results in DIR/<input name>/; finished inputs are skipped")
    group.add_argument("--ray-address", help="Ray cluster address (default: a local Ray started for the run)")
    group.add_argument("--workers", type=int,
                       help="Ray workers, each loading the network once (default: one per GPU, else 1)")


def check_batch_arguments(args: argparse.Namespace) -> Optional[str]:
    """Why the batch options do not go together (None when they do)."""
    if not args.ray and (args.ray_address is not None or args.workers is not None):
        return "--ray-address and --workers need --ray"
    if args.workers is not None and args.workers < 1:
        return f"--workers must be at least 1, got {args.workers}"
    return None
