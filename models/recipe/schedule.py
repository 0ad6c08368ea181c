"""VARiant's supernet schedules (arXiv 2511.16546, as summarised in VAR_SPEC.md 9 and issue 17): which network a
training step runs, the full one or a weight-shared subnet of d equidistant layers.

    progressive_ratio(step, total) -> subnet share of the steps at `step` (0..1)
        phase 1 (first 5/30 of the steps): joint, subnet:full = 2:8 (0.2)
        phase 2 (next 15/30): moves linearly from 0.2 to 1.0 (10:0)
        phase 3 (last 10/30): 1.0
    fixed_ratio(step, total, share=0.5) -> share (the fixed-ratio baseline)
    pick(step, total, gen, ratio_fn, depths) -> None (full network) or a subnet depth from `depths`

The paper's phases are 5, 15 and 5-15 epochs; here they are fractions of the stage's steps (PHASES).
"""
import torch

PHASES = (5, 15, 10)        # relative lengths of the three phases
START_SHARE = 2 / (2 + 8)   # subnet:full = 2:8 in phase 1


def progressive_ratio(step, total, phases=PHASES, start=START_SHARE):
    if total <= 0:
        raise ValueError("total steps must be positive")
    t = min(max(step / total, 0.0), 1.0) * sum(phases)
    if t < phases[0]:
        return start
    if t < phases[0] + phases[1]:
        return start + (1.0 - start) * (t - phases[0]) / phases[1]
    return 1.0


def fixed_ratio(step, total, share=0.5):
    if total <= 0:
        raise ValueError("total steps must be positive")
    return share


def subnet_depths(depth):
    """The subnet depths trained for a model of `depth` layers: 16, 8, 4, 2 below the full depth."""
    return [d for d in (16, 8, 4, 2) if d < depth]


def pick(step, total, gen, ratio_fn, depths):
    """Full network (None) or a subnet depth for this step; two draws from `gen` per step, whatever the result,
    so that the sequence of later steps does not depend on earlier outcomes."""
    u, k = torch.rand(1, generator=gen).item(), torch.randint(0, max(1, len(depths)), (1,), generator=gen).item()
    if not depths or u >= ratio_fn(step, total):
        return None
    return depths[k]


if __name__ == "__main__":  # imported by the scripts; run, it describes itself (--help) and refuses anything else
    import cli
    cli.module_main(__doc__)
