#!/usr/bin/python3
"""Issue 17's table: what VARiant's supernet training buys at demo scale, measured by the engine (vbench --quality).

    /usr/bin/python3 models/recipe/variant_table.py --vbench build/bench/vbench [--quality 20] [--out DIR]

For each VAR checkpoint of the recipe's run folder (`var`: no supernet training; `supernet-fixed`: the fixed-ratio
baseline; `supernet-progressive`: VARiant's schedule), the transformer is converted to bf16 safetensors with
upstream key names (models/convert.py) and run through

    vbench --model VAR --vae DEMO/vae.safetensors --classifier DEMO/classifier.safetensors
           --fd-ref DEMO/fd_ref.safetensors --depth 16,8,4,2 --quality N --json DIR/STAGE.json

(same VQ-VAE, classifier and Frechet reference for every row; the depths below the model's are VARiant subnets of
equidistant layers, the first --full-scales scales through every layer). Writes DIR/STAGE.json (vbench's record)
and DIR/table.md: accuracy and FD per depth, then ms/image and KV MiB per depth, each row from its own vbench run.
Needs torch (to read the .pt checkpoints); the measurements themselves are the engine's.
"""
import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import cli  # noqa: E402

ROWS = (("var", "full-depth VAR, no supernet training"),
        ("supernet-fixed", "supernet, fixed ratio (1:1)"),
        ("supernet-progressive", "supernet, progressive (VARiant)"))


def export_var(run, stage, out):
    import torch
    sys.path.insert(0, HERE)
    import train
    sd = train.trained_weights(torch.load(os.path.join(run, stage + ".pt")))  # the EMA where the run kept one
    with tempfile.TemporaryDirectory() as tmp:
        pth = os.path.join(tmp, "var.pth")
        torch.save({k: v.contiguous() for k, v in sd.items()}, pth)
        subprocess.run([sys.executable, os.path.join(HERE, "..", "convert.py"), pth, out, "--dtype", "bf16", "-q"],
                       check=True)


def measure(a, stage, model):
    js = os.path.join(a.out, stage + ".json")
    demo = a.demo
    cmd = [a.vbench, "--model", model, "--vae", os.path.join(demo, "vae.safetensors"),
           "--classifier", os.path.join(demo, "classifier.safetensors"),
           "--fd-ref", os.path.join(demo, "fd_ref.safetensors"), "--depth", a.depths, "--quality", str(a.quality),
           "--warmup", "1", "--reps", str(a.reps), "--json", js, "--md", os.path.join(a.out, stage + ".md")]
    print("+ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    # the records are committed: name the files, not this machine's folders
    for out in (js, os.path.join(a.out, stage + ".md")):
        with open(out) as f:
            text = f.read()
        for folder, label in ((os.path.dirname(model), "<converted>"), (os.path.abspath(demo), "<export>"),
                              (demo.rstrip("/"), "<export>")):
            text = text.replace(folder + "/", label + "/")
        with open(out, "w") as f:
            f.write(text)
    with open(js) as f:
        return json.load(f)


def runs_by_depth(result):
    runs = result["results"][0]["runs"]
    return {r["depth"]: r for r in runs}


def table(records, depths):
    head = "| model | " + " | ".join("depth %d" % d for d in depths) + " |"
    sep = "|---|" + "---|" * len(depths)
    acc = [head.replace("| model |", "| accuracy / FD |"), sep]
    cost = [head.replace("| model |", "| ms/image, KV MiB |"), sep]
    for stage, label in ROWS:
        if stage not in records:
            continue
        by = runs_by_depth(records[stage])
        a_cells, c_cells = [], []
        for d in depths:
            r = by.get(d)
            if r is None:
                a_cells.append("-")
                c_cells.append("-")
                continue
            q = r.get("quality", {})
            a_cells.append("%.3f / %.1f" % (q.get("accuracy", float("nan")), q.get("fd", float("nan"))))
            c_cells.append("%.0f, %.2f" % (r["ms_per_image"]["median"], r["kv_bytes"] / 2 ** 20))
        acc.append("| %s | %s |" % (label, " | ".join(a_cells)))
        cost.append("| %s | %s |" % (label, " | ".join(c_cells)))
    return "\n".join(acc) + "\n\n" + "\n".join(cost) + "\n"


def main():
    p = cli.parser(description=__doc__.split("\n\n")[0])
    p.add_argument("--vbench", required=True)
    p.add_argument("--run", default=os.path.join(HERE, "run"))
    p.add_argument("--demo", default=os.path.join(HERE, "..", "demo"), help="vae, classifier and fd_ref files")
    p.add_argument("--out", default=os.path.join(HERE, "results"))
    p.add_argument("--quality", type=cli.at_least(1), default=20, help="images per class per depth")
    p.add_argument("--depths", default="16,8,4,2")
    p.add_argument("--reps", type=cli.at_least(1), default=3)
    p.add_argument("--stages", default=",".join(s for s, _ in ROWS))
    a = p.parse_args()
    if not shutil.which(a.vbench):  # a path, or a name on PATH as subprocess finds it
        raise FileNotFoundError(errno.ENOENT, "not an executable vbench", a.vbench)
    stages = [s for s in a.stages.split(",") if os.path.exists(os.path.join(a.run, s + ".pt"))]
    if not stages:  # before anything is written: an empty table would replace the results' one
        p.error("no checkpoint of %s in %s" % (a.stages, a.run))
    os.makedirs(a.out, exist_ok=True)
    records = {}
    with tempfile.TemporaryDirectory() as tmp:
        for stage in a.stages.split(","):
            if not os.path.exists(os.path.join(a.run, stage + ".pt")):
                print("variant_table: %s: no checkpoint, row left out" % stage, file=sys.stderr)
                continue
            model = os.path.join(tmp, stage + ".safetensors")
            export_var(a.run, stage, model)
            records[stage] = measure(a, stage, model)
    depths = [int(d) for d in a.depths.split(",")]
    text = table(records, depths)
    with open(os.path.join(a.out, "table.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    cli.run(main)
