"""ONNX Runtime session settings on the exported HFL-Net, timed interleaved: which ones gain on this CPU.

    .venv/bin/python benchmarks/onnx_settings.py [--repeats 7] [--cache DIR]

Settings: default (what `OnnxNetwork` uses: intra-op threads = torch's, all graph optimisations incl. the
NCHWc layout), no-spin (intra-op threads sleep instead of spinning), parallel (independent branches, i.e. the
hand and object streams, run on inter-op threads, one intra-op thread each), basic (only basic graph
fusions: no layout transformation). Prints p50 ms per setting and its ratio to default.
"""

import argparse
import statistics
import tempfile
import time

import numpy as np
import onnxruntime
import torch

from hfl_ros.config import ModelConfig
from hfl_ros.mano import load_mano
from hfl_ros.mano.procedural import procedural_mano_dir
from hfl_ros.model.export import INPUT_NAMES, cached_export, example_inputs
from hfl_ros.model.hflnet import HFLNet

SEED = 0


def settings(threads: int):
    """name -> SessionOptions."""
    def options(**values):
        result = onnxruntime.SessionOptions()
        result.intra_op_num_threads = threads
        for key, value in values.items():
            if key == "config":
                for entry, setting in value.items():
                    result.add_session_config_entry(entry, setting)
            else:
                setattr(result, key, value)
        return result

    return {
        "default": options(),
        "no-spin": options(config={"session.intra_op.allow_spinning": "0"}),
        "parallel": options(execution_mode=onnxruntime.ExecutionMode.ORT_PARALLEL, inter_op_num_threads=threads,
                            intra_op_num_threads=1),
        "basic": options(graph_optimization_level=onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--cache", help="export cache directory (default: the user's cache)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        mano = load_mano(procedural_mano_dir(tmp))
    torch.manual_seed(SEED)
    path = cached_export(HFLNet(ModelConfig(), mano).eval(), args.cache)
    feeds = {name: tensor.numpy() for name, tensor in zip(INPUT_NAMES, example_inputs(1))}
    sessions = {name: onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
                for name, options in settings(torch.get_num_threads()).items()}
    for session in sessions.values():
        session.run(None, feeds)
    times = {name: [] for name in sessions}
    for _ in range(args.repeats):
        for name, session in sessions.items():
            start = time.perf_counter()
            session.run(None, feeds)
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["default"])
    for name, samples in times.items():
        p50 = statistics.median(samples)
        print(f"{name:<10} p50 {p50 * 1e3:8.1f} ms  p95 {np.percentile(samples, 95) * 1e3:8.1f} ms  "
              f"default/this {base / p50:5.2f}x")


if __name__ == "__main__":
    main()
