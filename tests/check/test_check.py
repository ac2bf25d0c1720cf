"""fmlab.check: every check accepts the reference solution (taken from the instructor notebooks) and rejects
plausible wrong answers with a message that says what is wrong, shown without fmlab's frames."""
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import fmlab
from fmlab.check import CheckFailed
from fmlab.course.labs import exercises_in
from fmlab.check.spectral import _band_power  # the plausible wrong versions, as the check builds them


@pytest.fixture(scope="module")
def solutions() -> dict:
    """{exercise name: the instructor's function}, defined by running each exercise cell of the notebooks."""
    found = {}
    for notebook, cells in exercises_in().items():
        for name, source, _ in cells:
            scope = {"torch": torch, "F": F}
            exec(source, scope)  # noqa: S102 - our own notebooks' exercise cells
            found[name] = scope[name]
    return found


def test_every_check_has_a_solution_in_the_notebooks(solutions):
    assert sorted(solutions) == sorted(fmlab.check.EXERCISES)


@pytest.mark.parametrize("name", fmlab.check.EXERCISES)
def test_check_accepts_the_reference_solution(solutions, name, capsys):
    getattr(fmlab.check, name)(solutions[name])
    assert capsys.readouterr().out.startswith(f"✓ {name}: ")


@pytest.mark.parametrize("name", fmlab.check.EXERCISES)
def test_unwritten_function_asks_to_write_it_first(name):
    def unwritten(*args, **kwargs):
        raise NotImplementedError("write this")
    with pytest.raises(NotImplementedError, match="write the function first"):
        getattr(fmlab.check, name)(unwritten)


def test_a_crash_in_the_students_code_names_the_case():
    def mismatched(batch, tokens, ratio, generator=None):
        return torch.zeros(batch, tokens, dtype=torch.bool) | torch.zeros(tokens + 1, dtype=torch.bool)
    with pytest.raises(CheckFailed, match=r"your function raised RuntimeError: .*\(case: batch 4, 16 tokens"):
        fmlab.check.random_token_mask(mismatched)


def test_passing_the_result_instead_of_the_function_is_explained():
    with pytest.raises(CheckFailed, match="pass it without calling it"):
        fmlab.check.masked_mse(torch.tensor(0.5))


def _mask_from_noise(noise, ratio, extra=0):
    b, n = noise.shape
    return torch.zeros(b, n, dtype=torch.bool).scatter_(1, noise.argsort(1)[:, :round(ratio * n) + extra], True)


def _pool_parts(tokens, valid):
    h = tokens[:, 1:]
    w = torch.ones_like(h[..., :1]) if valid is None else valid[..., None].float()
    return h, w, (h * w).sum(1) / w.sum(1), h.masked_fill(w == 0, float("-inf")).amax(1)


def _rank_of(q):
    return torch.exp(torch.special.entr(q / q.sum().clamp_min(1e-12)).sum())


def _split(law, flops, k=None, pick=np.argmin, swap=False, sizes=400):
    n = np.logspace(2, 9, sizes)
    d = flops / ((law.flops_per_nd if k is None else k) * n)
    i = pick(law.predict(n, d))
    return (d[i], n[i]) if swap else (n[i], d[i])


WRONG = {
    "log_band_power": [
        ("upper edge included", lambda x, fs, b: _band_power(x, fs, b, closed=True),
         "your bands include their upper edge (freqs <= hi), so a bin on a shared edge counts twice"),
        ("no bin width", lambda x, fs, b: _band_power(x, fs, b, width=False), "you sum the PSD without the bin width"),
        ("no log", lambda x, fs, b: _band_power(x, fs, b, log=None), "return its natural log"),
        ("mean of the PSD", lambda x, fs, b: _band_power(x, fs, b, reduce="mean", width=False), "you average the PSD"),
        ("no eps", lambda x, fs, b: _band_power(x, fs, b, eps=0), "a flat channel gives -inf"),
        ("bands first", lambda x, fs, b: _band_power(x, fs, b, dim=0),
         "returned shape (5, 2, 3); expected (2, 3, 5), [B, C, n_bands]"),
        ("log10", lambda x, fs, b: _band_power(x, fs, b, log=torch.log10), "you use log10"),
        ("a list", lambda x, fs, b: list(_band_power(x, fs, b).unbind(-1)), "returned a list"),
    ],
    "compute_optimal": [
        ("k left out", lambda law, c: _split(law, c, k=1), "your N D is the budget itself"),
        ("k = 6", lambda law, c: _split(law, c, k=6), "you take k = 6"),
        ("C / k * N", lambda law, c: (lambda n: (n, c / law.flops_per_nd * n))(_split(law, c)[0]),
         "your D is C / k * N"),
        ("argmax", lambda law, c: _split(law, c, pick=np.argmax), "choose the split with argmin, not argmax"),
        ("(D, N)", lambda law, c: _split(law, c, swap=True), "your pair is (D, N)"),
        ("too few sizes", lambda law, c: _split(law, c, sizes=15), "your candidate sizes are too far apart"),
        ("law.optimal's dict", lambda law, c: law.optimal(c), "returned a dict"),
        ("every candidate", lambda law, c: (np.logspace(2, 9, 4), c / np.logspace(2, 9, 4)), "your N is a ndarray"),
    ],
    "random_token_mask": [
        ("fixed order", lambda b, n, r, g=None: torch.arange(n).expand(b, n) < round(r * n),
         "every sample in the batch hides the same tokens"),
        ("one order for the batch", lambda b, n, r, g=None: _mask_from_noise(torch.rand(1, n, generator=g).expand(b, n), r),
         "the token order is not random across the batch"),
        ("rand < ratio", lambda b, n, r, g=None: torch.rand(b, n, generator=g) < r, "expected round("),
        ("truncating", lambda b, n, r, g=None: torch.zeros(b, n, dtype=torch.bool).scatter_(
            1, torch.rand(b, n, generator=g).argsort(1)[:, :int(r * n)], True), "hides 6 of 10 tokens in sample 0; "
         "expected round(0.66 * 10) = 7 in every sample: you truncate"),
        ("inverted", lambda b, n, r, g=None: ~_mask_from_noise(torch.rand(b, n, generator=g), r),
         "hides 4 of 16 tokens in sample 0; expected round(0.75 * 16) = 12 in every sample: your mask looks inverted"),
        ("one too many", lambda b, n, r, g=None: _mask_from_noise(torch.rand(b, n, generator=g), r, extra=1),
         "hides 13 of 16 tokens in sample 0; expected round(0.75 * 16) = 12 in every sample: one too many in every "
         "sample, an off-by-one"),
        ("one too few", lambda b, n, r, g=None: _mask_from_noise(torch.rand(b, n, generator=g), r, extra=-1),
         "one too few in every sample, an off-by-one"),
        ("ignores the generator", lambda b, n, r, g=None: _mask_from_noise(torch.rand(b, n), r),
         "generators seeded the same gave different masks"),
        ("float mask", lambda b, n, r, g=None: _mask_from_noise(torch.rand(b, n, generator=g), r).float(),
         "return a bool tensor"),
        ("returns keep too", lambda b, n, r, g=None: (None, _mask_from_noise(torch.rand(b, n, generator=g), r)),
         "return only masked"),
        ("biased: hides from the first half", lambda b, n, r, g=None: _mask_from_noise(
            torch.rand(b, n, generator=g) + torch.arange(n) / n, r), "not at random"),
    ],
    "masked_mse": [
        ("over visible tokens", lambda p, t, m: ((p - t) ** 2).mean(-1)[~m].mean(), "scores the visible tokens"),
        ("over every token", lambda p, t, m: ((p - t) ** 2).mean(), "averages over every token"),
        ("divides by all tokens", lambda p, t, m: (((p - t) ** 2).mean(-1) * m).mean(), "divide by the number of hidden"),
        ("sum over L", lambda p, t, m: ((p - t) ** 2).sum(-1)[m].mean(), "sum the squared errors over each patch"),
        ("absolute error", lambda p, t, m: (p - t).abs().mean(-1)[m].mean(), "absolute errors"),
        ("detached", lambda p, t, m: ((p - t) ** 2).mean(-1)[m].mean().detach(), "no gradient flows"),
        ("a float", lambda p, t, m: ((p - t) ** 2).mean(-1)[m].mean().item(), "should return a single number"),
        ("per sample", lambda p, t, m: (((p - t) ** 2).mean(-1) * m).sum(1) / m.sum(1),
         "returned shape (4,); expected (), a single number (a 0-dim tensor): the mean loss; reduce it to a single"),
    ],
    "spectrum_target": [
        ("full FFT", lambda p, eps=1e-3: torch.log(torch.fft.fft(p, dim=-1).abs() + eps), "use torch.fft.rfft"),
        ("no log", lambda p, eps=1e-3: torch.fft.rfft(p, dim=-1).abs(), "take its log"),
        ("no eps", lambda p, eps=1e-3: torch.log(torch.fft.rfft(p, dim=-1).abs()), "patch of zeros gives -inf"),
        ("power", lambda p, eps=1e-3: torch.log(torch.fft.rfft(p, dim=-1).abs() ** 2 + eps), "log of the power"),
        ("complex", lambda p, eps=1e-3: torch.fft.rfft(p, dim=-1), "your target is complex"),
        ("log10", lambda p, eps=1e-3: torch.log10(torch.fft.rfft(p, dim=-1).abs() + eps), "you use log10"),
        ("over tokens", lambda p, eps=1e-3: torch.log(torch.fft.rfft(p, dim=1).abs() + eps), "over its last dimension"),
    ],
    "nt_xent_loss": [
        ("no temperature", lambda z1, z2, t=0.1: fmlab.pretrain.nt_xent(z1, z2, 1.0), "without the temperature"),
        ("positive mis-indexed", lambda z1, z2, t=0.1: F.cross_entropy(
            (lambda z: (z @ z.T / t).fill_diagonal_(float("-inf")))(F.normalize(torch.cat([z1, z2]), dim=-1)),
            torch.cat([torch.arange(len(z1)), torch.arange(len(z1))])), "positives are mis-indexed"),
        ("not normalised", lambda z1, z2, t=0.1: F.cross_entropy(
            (lambda z: (z @ z.T / t).fill_diagonal_(float("-inf")))(torch.cat([z1, z2])),
            torch.cat([torch.arange(len(z1), 2 * len(z1)), torch.arange(len(z1))])), "not cosine similarities"),
        ("self not removed", lambda z1, z2, t=0.1: F.cross_entropy(
            (lambda z: z @ z.T / t)(F.normalize(torch.cat([z1, z2]), dim=-1)),
            torch.cat([torch.arange(len(z1), 2 * len(z1)), torch.arange(len(z1))])), "competes with itself"),
        ("only z1 against z2", lambda z1, z2, t=0.1: F.cross_entropy(
            F.normalize(z1, dim=-1) @ F.normalize(z2, dim=-1).T / t, torch.arange(len(z1))), "concatenate z1 and z2"),
        ("detached", lambda z1, z2, t=0.1: fmlab.pretrain.nt_xent(z1.detach(), z2.detach(), t), "no gradient flows"),
        ("one side detached", lambda z1, z2, t=0.1: fmlab.pretrain.nt_xent(z1, z2.detach(), t),
         "wrong gradient with respect to z2"),
    ],
    "ema_step": [
        ("weights swapped", torch.no_grad()(lambda t, o, m: [q.mul_(1 - m).add_(p, alpha=m) for q, p in
                                                             zip(t.parameters(), o.parameters())]),
         "the weights are swapped"),
        ("not in place", torch.no_grad()(lambda t, o, m: [m * q + (1 - m) * p for q, p in
                                                          zip(t.parameters(), o.parameters())]),
         "left the target's weights unchanged"),
        ("without no_grad", lambda t, o, m: [q.mul_(m).add_(p, alpha=1 - m) for q, p in
                                             zip(t.parameters(), o.parameters())], "carry gradient history"),
        ("moves the online model", torch.no_grad()(lambda t, o, m: [(q.mul_(m).add_(p, alpha=1 - m), p.copy_(q)) for
                                                                    q, p in zip(t.parameters(), o.parameters())]),
         "changed the online model"),
        ("copies the online model", torch.no_grad()(lambda t, o, m: [q.copy_(p) for q, p in
                                                                     zip(t.parameters(), o.parameters())]),
         "became a copy of the online model"),
    ],
    "lora_forward": [
        ("no scaling", lambda x, w, b, A, B, alpha: F.linear(x, w, b) + x @ A.T @ B.T, "update is not scaled"),
        ("scaled by alpha", lambda x, w, b, A, B, alpha: F.linear(x, w, b) + alpha * x @ A.T @ B.T,
         "you scale the update by alpha"),
        ("no bias", lambda x, w, b, A, B, alpha: x @ w.T + alpha / len(A) * x @ A.T @ B.T, "misses the frozen layer's bias"),
        ("update only", lambda x, w, b, A, B, alpha: alpha / len(A) * x @ A.T @ B.T, "only the low-rank update"),
        ("transposed", lambda x, w, b, A, B, alpha: torch.transpose(
            F.linear(x, w, b) + alpha / len(A) * x @ A.T @ B.T, 0, 1),
         "returned shape (5, 2, 10); expected (2, 5, 10), [..., out] = (2, 5, 10), the same leading dimensions as x "
         "(the right sizes in another order"),
        ("A, B detached", lambda x, w, b, A, B, alpha: F.linear(x, w, b) + alpha / len(A) * x @ A.detach().T @ B.detach().T,
         "no correct gradient reaches A"),
    ],
    "rankme": [
        ("0 log 0 = nan", lambda z: (lambda q: torch.exp(-(q * q.log()).sum()))(
            (lambda s: s / s.sum())(torch.linalg.svdvals(z - z.mean(0)))), "nan (Z [10, 5], every row the same"),
        ("not centred", lambda z: _rank_of(torch.linalg.svdvals(z)), "you do not centre Z"),
        ("centred per row", lambda z: _rank_of(torch.linalg.svdvals(z - z.mean(1, keepdim=True))), "centre each row"),
        ("eigenvalues", lambda z: _rank_of(torch.linalg.svdvals(z - z.mean(0)) ** 2), "squared singular values"),
        ("the entropy", lambda z: torch.log(_rank_of(torch.linalg.svdvals(z - z.mean(0)))), "you return the entropy"),
        ("matrix rank", lambda z: torch.linalg.matrix_rank(z - z.mean(0)), "the matrix rank"),
        ("in place", lambda z: _rank_of(torch.linalg.svdvals(z.sub_(z.mean(0)))), "changed Z in place"),
        ("the singular values", lambda z: torch.linalg.svdvals(z - z.mean(0)), "returned a Tensor of shape (8,)"),
    ],
    "mean_max_pool": [
        ("with CLS", lambda t, v=None: torch.cat([t.mean(1), t.amax(1)], -1), "includes the CLS token"),
        ("max first", lambda t, v=None: torch.cat(_pool_parts(t, v)[:1:-1], -1), "your halves are swapped"),
        ("padding counted", lambda t, v=None: torch.cat(_pool_parts(t, None)[2:], -1), "counts the padding"),
        ("padding zeroed for the max", lambda t, v=None: (lambda h, w, mean, top: torch.cat(
            [mean, (h * w).amax(1)], -1))(*_pool_parts(t, v)), "you zero the padding before the max"),
        ("mean over all K", lambda t, v=None: (lambda h, w, mean, top: torch.cat(
            [(h * w).sum(1) / h.shape[1], top], -1))(*_pool_parts(t, v)), "divides by all K tokens"),
        ("torch.max's pair", lambda t, v=None: torch.cat([t[:, 1:].mean(1), t[:, 1:].max(1)], -1),
         "returns a pair (values, indices): take its .values"),
        ("mean only", lambda t, v=None: _pool_parts(t, v)[2], "returns only the mean"),
        ("stacked", lambda t, v=None: torch.stack(_pool_parts(t, v)[2:], 1), "stacks the mean and the max"),
        ("over D", lambda t, v=None: torch.cat([t[:, 1:].mean(-1), t[:, 1:].amax(-1)], -1),
         "pools over the D features"),
        ("no valid argument", lambda t: torch.cat(_pool_parts(t, None)[2:], -1),
         "keep the def line of the exercise cell as it is"),
    ],
    "prepend_prompts": [
        ("appended", lambda c, p, t: torch.cat([c.expand(len(t), -1, -1), t, p.expand(len(t), -1, -1)], 1),
         "come after the signal tokens"),
        ("before CLS", lambda c, p, t: torch.cat([p.expand(len(t), -1, -1), c.expand(len(t), -1, -1), t], 1),
         "come before CLS"),
        ("no CLS", lambda c, p, t: torch.cat([p.expand(len(t), -1, -1), t], 1), "CLS is missing"),
        ("prompts detached", lambda c, p, t: torch.cat([c.expand(len(t), -1, -1), p.detach().expand(len(t), -1, -1), t], 1),
         "no correct gradient reaches the prompts"),
    ],
}


def test_every_check_has_wrong_answers():
    assert set(WRONG) == set(fmlab.check.EXERCISES)


@pytest.mark.parametrize("name, label, wrong, says", [(name, *w) for name, ws in WRONG.items() for w in ws],
                         ids=[f"{name}: {w[0]}" for name, ws in WRONG.items() for w in ws])
def test_check_rejects_a_wrong_answer_and_says_why(name, label, wrong, says):
    with pytest.raises(CheckFailed) as caught:
        getattr(fmlab.check, name)(wrong)
    message = str(caught.value)
    assert message.startswith(f"{name}: ")
    assert says in message, f"{label}: the message does not say {says!r}: {message}"


def test_a_check_leaves_the_notebooks_random_numbers_alone(solutions):
    """Checks draw random cases (and ema_step builds models); the notebook's next torch.randn must not change."""
    state = torch.random.get_rng_state()
    for name in fmlab.check.EXERCISES:
        getattr(fmlab.check, name)(solutions[name])
    assert torch.equal(torch.random.get_rng_state(), state)


@pytest.mark.slow  # seconds: a subprocess or a training run; make test runs it
def test_a_failed_check_in_a_script_shows_one_line_of_fmlab(tmp_path):
    """Issue 19, item 6: a failed check in a script ends in its message, with one line of fmlab (the check's own
    raise) and, for a crash, the student's line that raised, not the case that called it."""
    script = tmp_path / "student.py"
    script.write_text(textwrap.dedent("""
        import torch, fmlab
        def masked_mse(pred, target, masked):
            return pred[masked.T].mean()
        fmlab.check.masked_mse(masked_mse)
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 1
    frames = re.findall(r'File "([^"]+)", line \d+, in (\w+)', out.stderr)
    assert [f for f in frames if "fmlab" in f[0]] == [(fmlab.check.masked.__file__, "masked_mse")], out.stderr
    assert ("return pred[masked.T].mean()" in out.stderr and
            out.stderr.rstrip().splitlines()[-1].startswith("fmlab.check.CheckFailed: masked_mse: your function "
                                                            "raised IndexError")), out.stderr


@pytest.mark.slow  # seconds: a subprocess or a training run; make test runs it
def test_a_failed_check_in_a_notebook_shows_its_message_not_a_traceback(tmp_path):
    """Issue 19, item 6: what IPython (JupyterLab, papermill) prints for a failed check: the hint of the inverted
    mask, the student's frame of a crash, the request to write the function first; no frame of fmlab/check.
    In a subprocess, so the shell is not left installed in this one."""
    script = tmp_path / "shell.py"
    script.write_text(textwrap.dedent("""
        from IPython.core.interactiveshell import InteractiveShell
        from traitlets.config import Config
        config = Config()
        config.HistoryManager.hist_file = ":memory:"
        shell = InteractiveShell.instance(config=config, colors="NoColor")
        shell.run_cell("import torch, fmlab")
        for cell in [
            "def inverted(b, n, r, g=None):\\n"
            "    m = torch.zeros(b, n, dtype=torch.bool)\\n"
            "    return ~m.scatter_(1, torch.rand(b, n, generator=g).argsort(1)[:, :round(r * n)], True)\\n"
            "fmlab.check.random_token_mask(inverted)",
            "def crashes(pred, target, masked):\\n    return pred[masked.T].mean()\\nfmlab.check.masked_mse(crashes)",
            "def unwritten(*args):\\n    raise NotImplementedError('write this')\\nfmlab.check.rankme(unwritten)"]:
            print("=== cell")
            shell.run_cell(cell)
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    shown = out.stdout.split("=== cell")[1:]
    assert len(shown) == 3, out.stdout + out.stderr
    inverted, crash, unwritten = (s.strip() for s in shown)
    assert inverted == fmlab.check.CheckFailed.__name__ + ": random_token_mask: with ratio 0.75 your mask hides 4 of " \
        "16 tokens in sample 0; expected round(0.75 * 16) = 12 in every sample: your mask looks inverted, it hides " \
        "as many tokens as should stay visible. True must mean HIDDEN: mark the first 12 of the random order True " \
        "(did you return ~masked, or mark the kept ones?)"
    assert crash.startswith("Your function raised here") and "return pred[masked.T].mean()" in crash, crash
    assert crash.splitlines()[-1].startswith("CheckFailed: masked_mse: your function raised IndexError"), crash
    assert unwritten.startswith("NotImplementedError: rankme: write the function first"), unwritten
    assert "fmlab/check" not in out.stdout and "Traceback" not in out.stdout, out.stdout


@pytest.mark.slow  # seconds: a subprocess or a training run; make test runs it
def test_the_two_likeliest_mistakes_of_the_data_and_scaling_checks_show_their_hint_alone(tmp_path):
    """Issue 19, item 6: in IPython, the band power with its upper edges included or without the bin width, and a
    compute-optimal split that forgets k or takes the argmax, each show one line: the check's hint, no frames."""
    script = tmp_path / "shell.py"
    script.write_text(textwrap.dedent("""
        from IPython.core.interactiveshell import InteractiveShell
        from traitlets.config import Config
        config = Config()
        config.HistoryManager.hist_file = ":memory:"
        shell = InteractiveShell.instance(config=config, colors="NoColor")
        shell.run_cell("import numpy as np, torch, fmlab\\nfrom fmlab.data.spectral import power_spectrum")
        for cell in [
            "def log_band_power(x, fs, bands):\\n"
            "    freqs, psd = power_spectrum(x, fs)\\n"
            "    return torch.stack([torch.log(psd[..., (freqs >= lo) & (freqs <= hi)].sum(-1) * freqs[1] + 1e-6)\\n"
            "                        for lo, hi in bands.values()], -1)\\n"
            "fmlab.check.log_band_power(log_band_power)",
            "def log_band_power(x, fs, bands):\\n"
            "    freqs, psd = power_spectrum(x, fs)\\n"
            "    return torch.stack([torch.log(psd[..., (freqs >= lo) & (freqs < hi)].sum(-1) + 1e-6)\\n"
            "                        for lo, hi in bands.values()], -1)\\n"
            "fmlab.check.log_band_power(log_band_power)",
            "def compute_optimal(law, flops):\\n"
            "    n = np.logspace(2, 9, 400)\\n"
            "    d = flops / n\\n"
            "    i = law.predict(n, d).argmin()\\n"
            "    return n[i], d[i]\\n"
            "fmlab.check.compute_optimal(compute_optimal)",
            "def compute_optimal(law, flops):\\n"
            "    n = np.logspace(2, 9, 400)\\n"
            "    d = flops / (law.flops_per_nd * n)\\n"
            "    i = law.predict(n, d).argmax()\\n"
            "    return n[i], d[i]\\n"
            "fmlab.check.compute_optimal(compute_optimal)"]:
            print("=== cell")
            shell.run_cell(cell)
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    shown = [s.strip() for s in out.stdout.split("=== cell")[1:]]
    assert len(shown) == 4, out.stdout + out.stderr
    says = ["CheckFailed: log_band_power: your bands include their upper edge (freqs <= hi)",
            "CheckFailed: log_band_power: you sum the PSD without the bin width",
            "CheckFailed: compute_optimal: your split N = ",
            "CheckFailed: compute_optimal: the law expects "]
    for message, start in zip(shown, says):
        assert len(message.splitlines()) == 1 and message.startswith(start), message
    assert "your N D is the budget itself" in shown[2] and "argmin, not argmax" in shown[3]
    assert "fmlab/check" not in out.stdout and "Traceback" not in out.stdout, out.stdout
