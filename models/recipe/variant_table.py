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


def export_var(sd, out):
    import torch
    with tempfile.TemporaryDirectory() as tmp:
        pth = os.path.join(tmp, "var.pth")
        torch.save({k: v.contiguous() for k, v in sd.items()}, pth)
        subprocess.run([sys.executable, os.path.join(HERE, "..", "convert.py"), pth, out, "--dtype", "bf16", "-q"],
                       check=True)


def measure(a, stage, model, records):
    """vbench's record of `model` into the folder `records` (STAGE.json, STAGE.md) -> the JSON record."""
    js = os.path.join(records, stage + ".json")
    demo = a.demo
    cmd = [a.vbench, "--model", model, "--vae", os.path.join(demo, "vae.safetensors"),
           "--classifier", os.path.join(demo, "classifier.safetensors"),
           "--fd-ref", os.path.join(demo, "fd_ref.safetensors"), "--depth", a.depths, "--quality", str(a.quality),
           "--warmup", "1", "--reps", str(a.reps), "--json", js, "--md", os.path.join(records, stage + ".md")]
    print("+ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    # the records are committed: name the files, not this machine's folders
    for out in (js, os.path.join(records, stage + ".md")):
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
    p.add_argument("--quality", type=cli.at_least(1, high=100000), default=20,
                   help="images per class per depth (vbench's 1..100000)")
    p.add_argument("--depths", default="16,8,4,2")
    p.add_argument("--reps", type=cli.at_least(1, high=1000), default=3, help="vbench's --reps, 1..1000")
    p.add_argument("--stages", default=",".join(s for s, _ in ROWS))
    a = p.parse_args()
    # every argument and input is checked here, before any conversion or vbench run, and before --out (or a parent
    # of it) is created: a bad --depths was found by vbench after the first conversion, a folder made for nothing
    depths = cli.whole_list(p, "--depths", a.depths, 1, 128, most=32)  # vbench's list: up to 32, none twice
    names = a.stages.split(",")
    unknown = [s for s in names if s not in dict(ROWS)]
    if unknown or len(set(names)) < len(names):
        p.error("--stages %s: a list of %s, each once" % (a.stages, ", ".join(s for s, _ in ROWS)))
    if not shutil.which(a.vbench):  # a path, or a name on PATH as subprocess finds it
        raise FileNotFoundError(errno.ENOENT, "not an executable vbench", a.vbench)
    for f in ("vae.safetensors", "classifier.safetensors", "fd_ref.safetensors"):
        if not os.path.isfile(os.path.join(a.demo, f)):
            raise FileNotFoundError(errno.ENOENT, "--demo has no such file (the recipe's export writes it)",
                                    os.path.join(a.demo, f))
    cli.output_folder(p, "--out", a.out)
    stages = [s for s in names if os.path.exists(os.path.join(a.run, s + ".pt"))]
    if not stages:  # before anything is written: an empty table would replace the results' one
        p.error("no checkpoint of %s in %s" % (a.stages, a.run))
    sys.path.insert(0, HERE)
    import train
    weights = {}
    for stage in stages:
        weights[stage], cfg = train.var_checkpoint(os.path.join(a.run, stage + ".pt"))  # the EMA where kept
        if max(depths) > cfg["depth"]:
            p.error("--depths %s: %s has %d layers, so each depth is from 1 to %d" % (
                a.depths, os.path.join(a.run, stage + ".pt"), cfg["depth"], cfg["depth"]))
    for stage in names:
        if stage not in weights:
            print("variant_table: %s: no checkpoint, row left out" % stage, file=sys.stderr)
    records = {}
    with tempfile.TemporaryDirectory() as tmp:
        made = os.path.join(tmp, "records")  # the files for --out, moved there once every row is measured
        os.mkdir(made)
        for stage in stages:
            model = os.path.join(tmp, stage + ".safetensors")
            export_var(weights[stage], model)
            records[stage] = measure(a, stage, model, made)
        text = table(records, depths)
        with open(os.path.join(made, "table.md"), "w") as f:
            f.write(text)
        # a failure above leaves --out as it was: no folder made, no record of one stage beside another run's table
        os.makedirs(a.out, exist_ok=True)
        for name in sorted(os.listdir(made)):
            cli.replace_file(os.path.join(a.out, name), lambda dst: shutil.copyfile(os.path.join(made, name), dst))
    print(text)


if __name__ == "__main__":
    cli.run(main)
