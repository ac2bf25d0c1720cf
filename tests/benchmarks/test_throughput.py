"""benchmarks/throughput.py runs everywhere: on CPU it measures the step time of fmlab's own loop and counts
FLOPs; MFU needs a known peak."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def peak_tflops(name: str):
    """benchmarks/throughput.py's, loaded from its file: putting benchmarks/ on sys.path would let its
    mnist1d.py hide the mnist1d package from every later test."""
    spec = importlib.util.spec_from_file_location("throughput", BENCH / "throughput.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.peak_tflops(name)


def test_peaks_of_known_gpus():
    assert peak_tflops("NVIDIA H100 80GB HBM3") == 989.0
    assert peak_tflops("NVIDIA H100 PCIe") == 756.0
    assert peak_tflops("NVIDIA H200") == 989.0
    assert peak_tflops("NVIDIA A100-SXM4-80GB") == 312.0
    assert peak_tflops("some new accelerator") is None


@pytest.mark.slow
def test_throughput_benchmark_writes_its_rows(tmp_path):
    out = tmp_path / "throughput.json"
    cmd = [sys.executable, str(BENCH / "throughput.py"), "--profile", "smoke", "--objectives", "mae", "jepa",
           "--warmup", "1", "--steps", "2", "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert [(r["objective"], r["size"]) for r in result["rows"]] == [("mae", "tiny"), ("jepa", "tiny")]
    for r in result["rows"]:
        assert r["samples_per_s"] > 0 and r["step_seconds"] > 0 and r["flops_per_step"] > 1e6
        assert r["tokens_per_s"] == pytest.approx(r["samples_per_s"] * r["tokens_per_sample"])
        assert r["mfu"] is None  # no peak is known for a CPU
    mae, jepa = result["rows"]
    assert jepa["flops_per_step"] > mae["flops_per_step"]  # JEPA encodes every token for its target; MAE a quarter
    assert result["command"].startswith("python ") and result["torch"]
