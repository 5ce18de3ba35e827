"""Write ``results/README.md`` and the README's headline table from the committed results.

    python scripts/update_readme_results.py            # rewrite both
    python scripts/update_readme_results.py --check    # exit 1 if either is out of date (what the tests check)

Every number in the two texts is read from files, never typed by hand:

* ``results/results.json`` (``python -m course_lib evaluate --pretrained vanilla,pconv,improved --n-test 500 --out results``):
  the score tables, the paired comparison and the time per image, through
  :mod:`course_lib.reporting`, and the ranges quoted in the prose;
* ``course_lib/data/pretrained/<name>/``: ``run.json`` (command, settings, hardware, how a run was
  continued), ``log.csv`` (validation PSNR per epoch) and ``export.json`` (float16 storage);
* ``results/losses/`` (``scripts/compare_losses.py``): the loss study's validation curves and test scores.

``results/README.md`` is generated whole.  In ``README.md`` only the block between
``<!-- results:begin -->`` and ``<!-- results:end -->`` is replaced: one headline table and one
sentence.  ``tests/test_project.py`` checks that both are what this script writes now.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from course_lib import perception_study, recipes, reporting, seed_study

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results" / "results.json"
PRETRAINED = ROOT / "course_lib" / "data" / "pretrained"
LOSSES = ROOT / "results" / "losses"
SEEDS_MD = ROOT / "results" / "seeds" / "seeds.md"
PERCEPTION = ROOT / "results" / "perception"
README = ROOT / "README.md"
RESULTS_README = ROOT / "results" / "README.md"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"

NETWORKS = ("vanilla", "pconv", "improved")
NETWORK_NAMES = {"vanilla": "vanilla U-Net", "pconv": "PConv U-Net", "improved": "improved (hybrid)"}
#: The hole-ratio groups called "large holes" in the prose.
LARGE = ("0.3-0.4", "0.4-0.5", "0.5-0.6")
#: The rows of the README's headline table, in order.
HEADLINE_METHODS = ("improved", "pconv", "vanilla", "biharmonic", "diffusion", "mean fill")


# ------------------------------------------------------------------------------------------ numbers
def _paired(results, method, reference, group):
    summary = results["paired"]["differences"][method][reference][group]
    return summary["mean"], summary["ci95"]


def _mean(results, method, group, metric="hole_psnr"):
    return results["results"][method]["composite"][group][metric]["mean"]


def _span(values, signed=False, digits=2):
    """``"+0.35 to +0.41"`` (signed) or ``"0.35–0.41"``; one value if they round alike."""
    fmt = f"{{:+.{digits}f}}" if signed else f"{{:.{digits}f}}"
    low, high = fmt.format(min(values)), fmt.format(max(values))
    if low == high:
        return low
    return f"{low} to {high}" if signed else f"{low}–{high}"


def _group_label(group):
    """``0.01-0.1`` as ``1–10 % holes``; ``strokes`` as it is."""
    if "-" not in group:
        return group
    low, high = (round(float(x) * 100) for x in group.split("-"))
    return f"{low}–{high} % holes"


def _groups_text(groups):
    """``0.3-0.4`` ... ``0.5-0.6`` as ``30–60 %``."""
    low = round(float(groups[0].split("-")[0]) * 100)
    high = round(float(groups[-1].split("-")[1]) * 100)
    return f"{low}–{high} %"


def _large_holes_paired(results, method, reference="biharmonic"):
    pairs = [_paired(results, method, reference, g) for g in LARGE]
    return [m for m, _ in pairs], [c for _, c in pairs]


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _power_of_ten(x, digits=1):
    """``0.000273`` as ``2.7·10⁻⁴``; ``5e-06`` as ``5·10⁻⁶``."""
    mantissa, exponent = f"{x:.{digits}e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}·10{str(int(exponent)).translate(_SUPERSCRIPT)}"


def _load_run(name, pretrained_dir):
    folder = Path(pretrained_dir) / name
    run = json.loads((folder / "run.json").read_text())
    export = json.loads((folder / "export.json").read_text())
    with open(folder / "log.csv", newline="") as f:
        log = list(csv.DictReader(f))
    return run, export, log


def _final_val_batch_hole_l1(losses_dir, loss):
    with open(Path(losses_dir) / "logs" / f"{loss}.csv", newline="") as f:
        return float(list(csv.DictReader(f))[-1]["val_batch_hole_l1"])


# ------------------------------------------------------------------------------------------ README block
def headline_block(results_path=RESULTS) -> str:
    """The README's block between the markers: one table of hole PSNR and one sentence."""
    results = reporting.load_results(results_path)
    meta = results["metadata"]
    table = reporting.results_table_markdown(results, ("hole_psnr",), methods=HEADLINE_METHODS)
    spans = []
    for name in ("improved", "pconv", "vanilla"):
        means, cis = _large_holes_paired(results, name)
        spans.append((NETWORK_NAMES[name], _span(means, signed=True), cis))
    all_cis = [c for _, _, cis in spans for c in cis]
    sentence = (
        f"{meta['n_test']} CIFAR-10 test images, each with one mask of every group (columns: the fraction of the "
        "image that is missing; *strokes*: thin scribbles). Paired with biharmonic inpainting on the same "
        f"image–mask pairs, the networks lead it on {_groups_text(LARGE)} holes by: "
        + ", ".join(f"{name} {span} dB" for name, span, _ in spans)
        + f" (95 % intervals ± {_span(all_cis)} dB). Each shipped network was trained once, with one seed"
        + (". " + _seed_study_headline(SEEDS_MD) if Path(SEEDS_MD).exists() else ".")
    )
    return f"{BEGIN}\n{table}\n{sentence}\n{END}"


def _seed_study_headline(seeds_md):
    """One sentence of the seed study for the README: how the PConv U-Net compares with the vanilla one over seeds."""
    study = seed_study.load(Path(seeds_md).parent)
    findings = seed_study.findings(study)
    gap = next(line for line in findings if line.startswith("pconv − vanilla"))
    failed = " ".join(line.split(":")[0] + "." for line in findings if "did not learn" in line)
    return (f"[Trained three times each]({Path(seeds_md).relative_to(ROOT).as_posix()}) in the shorter `cpu` profile "
            f"(seeds {', '.join(str(s) for s in study['seeds'])}): {gap} {failed}").rstrip()


# ------------------------------------------------------------------------------------------ results/README.md
def _seeds_sentence(seeds_md):
    where = "the seed study, [`results/seeds/seeds.md`](seeds/seeds.md)," if Path(seeds_md).exists() else (
        "the seed study (`scripts/compare_seeds.py`, which writes `results/seeds/seeds.md`)")
    return (f"**One run, one seed each.** Each shipped network is one training run with seed 0. The ± intervals "
            "below cover the choice of test images, not the spread between training runs; "
            f"{where} trains every network with three seeds and reports that spread.")


def _training_section(results, pretrained_dir, losses_dir, seeds_md):
    runs = {name: _load_run(name, pretrained_dir) for name in NETWORKS}
    rows = ["| network | parameters | epochs | seed | loss | masks | batch | learning rate | hardware |",
            "|---|---:|---:|---:|---|---|---:|---|---|"]
    for name, (run, export, _) in runs.items():
        s, hw = run["settings"], run["hardware"]
        schedule = f"{_power_of_ten(s['learning_rate'])}, " + {"warmup_cosine": "warm-up, cosine"}.get(
            s["schedule"], s["schedule"])
        if "continued_from" in run:
            schedule += " (see below)"
        where = f"{hw['cpu_cores']}-core CPU" + (", no GPU" if not hw.get("gpu_count") else f", {hw['gpu_count']} GPU")
        rows.append(f"| {name} | {export['n_parameters']:,} | {s['epochs']} | {s['seed']} | `{s['loss']}` | "
                    f"`{s['masks']}` | {s['batch_size']} | {schedule} | {where} |")

    losses = {loss: _final_val_batch_hole_l1(losses_dir, loss) for loss in ("liu", "l1", "ssim")}
    study = reporting.load_results(Path(losses_dir) / "results.json")
    groups = study["metadata"]["groups"]
    irregular = [g for g in groups if g != "strokes"]
    liu_minus_l1 = [_mean(study, "pconv-liu", g) - _mean(study, "pconv-l1", g) for g in groups]
    liu_minus_ssim = [_mean(study, "pconv-liu", g) - _mean(study, "pconv-ssim", g) for g in irregular]
    liu_minus_ssim_strokes = _mean(study, "pconv-liu", "strokes") - _mean(study, "pconv-ssim", "strokes")
    with open(Path(losses_dir) / "logs" / "liu.csv", newline="") as f:
        loss_epochs = len(list(csv.DictReader(f)))

    parts = [
        "## How the shipped networks were trained",
        _seeds_sentence(seeds_md),
        "All three follow the course's recipe (`course_lib.recipes`, `\"course\"`, the default of `train` and of "
        "every profile):",
        "\n".join([
            "- **Liu et al.'s pixel loss** `L_valid + 6 L_hole + 0.1 L_tv` (L1 on the known pixels, L1 on the hole, "
            "and a total-variation term that penalises jumps between neighbouring pixels in and around the hole). It weights "
            "the hole's pixels six times the known ones: PSNR inside the hole is what the course measures, and with a "
            "whole-image L1 a 30 % hole gets 30 % of the gradient. Chosen on the validation images: in three PConv U-Net runs of "
            f"{loss_epochs} epochs in the `cpu` profile ([`losses/`](losses/)), the final validation hole L1 was "
            f"{losses['liu']:.4f} for it, {losses['l1']:.4f} for L1 and {losses['ssim']:.4f} for an SSIM loss. On "
            f"the test images its mean hole PSNR is {_span(liu_minus_l1)} dB above L1's in every group, and "
            f"{_span(liu_minus_ssim)} dB above SSIM on the irregular holes ({liu_minus_ssim_strokes:.2f} on the "
            "strokes); notebook 08 shows the same study.",
            "- **The `mixed` masks**: half strokes, half irregular holes of 1–60 %, the shapes the evaluation uses.",
            "- **Adam, 5·10⁻⁴, with a one-epoch linear warm-up, then cosine decay** to 1 % of it at the last step; "
            "gradients clipped to a global norm of 1. The learning rate was not swept: 5·10⁻⁴ lies between "
            "Liu et al.'s 2·10⁻⁴ and Keras' default 10⁻³.",
            "- **A starting bias of 0.5 in the PConv U-Net's output layer.** Its last partial convolution has 3 ReLU "
            "channels; with the hole-weighted loss they can die (a constant output) in the first epoch. The bias "
            "is an initial value only, the architecture is unchanged parameter for parameter; "
            "`tests/test_recipes.py` checks that the channels stay alive after a short real run.",
            "- **20 epochs of batch 32** on the 45,000 CIFAR-10 training images not held out; 5,000 held-out "
            "images for validation.",
        ]),
        "\n".join(rows),
    ]

    vanilla_run, _, vanilla_log = runs["vanilla"]
    if "continued_from" in vanilla_run:
        s = vanilla_run["settings"]
        steps_per_epoch = s["data"]["n_train"] // s["batch_size"]
        continued_at = vanilla_run["sessions"][-1]["epochs_trained"][0]  # 0-based: the first epoch of the continuation
        restart_lr = recipes.learning_rate_at(
            continued_at * steps_per_epoch, learning_rate=s["learning_rate"], schedule=s["schedule"],
            warmup_epochs=s["warmup_epochs"], steps_per_epoch=steps_per_epoch, epochs=s["epochs"])
        floor = recipes.COSINE_FLOOR * s["learning_rate"]
        val = {int(r["epoch"]): float(r["val_batch_psnr"]) for r in vanilla_log}
        shortened_at = vanilla_run["sessions"][0]["epochs_trained"][0]  # 0-based: the first epoch on the short cosine
        parts.append(
            "**The vanilla U-Net's schedule differs from the other two.** Its first "
            f"{continued_at} epochs did not follow the {s['epochs']}-epoch cosine: epochs 1–{shortened_at} did, "
            f"epochs {shortened_at + 1}–{continued_at} followed a {continued_at}-epoch cosine that reached the "
            f"floor ({_power_of_ten(floor)}) at the end of epoch {continued_at}. Epochs "
            f"{continued_at + 1}–{s['epochs']} then continued from those weights on the second half of the "
            f"{s['epochs']}-epoch cosine: the step size went back up to {_power_of_ten(restart_lr)} and decayed to "
            "the same floor. The package keeps no optimizer "
            "state, so Adam's second moments were estimated from 64 batches of gradients first "
            "(`scripts/continue_pretrained.py`; `run.json` records it under `continued_from`). Its validation PSNR "
            f"was {val[continued_at - 1]:.2f} dB after epoch {continued_at} and {val[s['epochs'] - 1]:.2f} dB after "
            f"epoch {s['epochs']}. A comparison between the vanilla and the PConv U-Net therefore compares two "
            "runs that differ in schedule as well as in architecture."
        )

    sizes = {name: export["size_bytes"] for name, (_, export, _) in runs.items()}
    grey = {name: export["float16_rounding"]["max_abs_output_change_in_grey_levels"]
            for name, (_, export, _) in runs.items()}
    parts += [
        "The third network, **`improved`**, is the course's own (notebook 08): a *hybrid* that fills the holes with "
        "the course's diffusion (`hybrid_layers.DiffusionFill`, notebook 01's heat equation as a Keras layer, coarse "
        f"to fine) and lets a small U-Net ({runs['improved'][1]['n_parameters']:,} parameters) learn the correction "
        "in logit space (the logit is the inverse of the sigmoid, log(p / (1 − p))); its last layer starts at zero, "
        "so the untrained network's output is the diffusion fill.",
        "`course_lib/data/pretrained/<name>/` holds each network's weights (`weights.npz`, float16) and the "
        "record of its training: `run.json` (the exact command, settings, hardware, versions, wall time), `log.csv` "
        "(every epoch) and `export.json`. Storing the weights in float16 changes the outputs by at most "
        + ", ".join(f"{grey[n]:.2f}" for n in NETWORKS)
        + " grey levels (" + ", ".join(NETWORKS) + f"); the three files take {sum(sizes.values()) / 1e6:.1f} MB.",
        "To train and score them again (times: the README's *Training times*):",
        "```bash\n"
        "python -m course_lib train --model pconv    --profile full --seed 0 --out RUN   # the course recipe is the default\n"
        "python -m course_lib train --model improved --profile full --seed 0 --out RUN\n"
        "python -m course_lib train --model vanilla  --profile full --seed 0 --out RUN\n"
        "python scripts/export_pretrained.py --model NAME --run RUN   # -> course_lib/data/pretrained/NAME/\n"
        "python -m course_lib evaluate --pretrained vanilla,pconv,improved --n-test 500 --out results\n"
        "python scripts/update_readme_results.py                      # this page and the README's table\n"
        "```",
    ]
    return parts


def _seed_findings(seeds_md):
    """The seed study's findings (computed by :func:`course_lib.seed_study.findings`), if it exists."""
    if not Path(seeds_md).exists():
        return []
    study = seed_study.load(Path(seeds_md).parent)
    return [f"**Across training runs** ([`seeds/seeds.md`](seeds/seeds.md): every network trained with seeds "
            f"{', '.join(str(s) for s in study['seeds'])} in the `{study.get('profile', 'cpu')}` profile, scored on "
            f"the same {study['n_test']} test images):",
            "\n".join(f"- {line}" for line in seed_study.findings(study))]


def _findings_section(results, seeds_md):
    groups = results["metadata"]["groups"]
    small = [g for g in groups if g not in LARGE]
    bullets = []
    for name in ("improved", "pconv", "vanilla"):
        means, cis = _large_holes_paired(results, name)
        others = [_paired(results, name, "biharmonic", g) for g in small]
        above = [g for g, (m, c) in zip(small, others) if m - c > 0]
        level = [g for g, (m, c) in zip(small, others) if m - c <= 0]
        text = (f"- `{name}` − biharmonic: " + ", ".join(f"{m:+.2f} (± {c:.2f})" for m, c in zip(means, cis))
                + " dB")
        if not level:
            text += "; above biharmonic in the other groups too."
        else:
            text += ("; on " + " and ".join(_group_label(g) for g in level) + " its interval includes zero ("
                     + ", ".join(f"{m:+.2f} ± {c:.2f}" for g, (m, c) in zip(small, others) if g in level) + " dB)"
                     + (", above biharmonic in the other groups." if above else "."))
        bullets.append(text)

    pconv_minus_vanilla = [_mean(results, "pconv", g) - _mean(results, "vanilla", g) for g in groups]
    patch = [_paired(results, "patch", "biharmonic", g)[0] for g in groups]
    database_large = [_paired(results, "database", "biharmonic", g)[0] for g in LARGE]
    database_small = [_paired(results, "database", "biharmonic", g)[0] for g in small]
    n = results["metadata"]["n_test"]

    return [
        "## What the tables show, on CIFAR-10",
        f"**Do the networks beat the classical methods on large holes? On CIFAR-10, yes, all three.** Paired, on the "
        f"{_groups_text(LARGE)} holes, one group of 10 % after another (mean per-image difference in hole PSNR, "
        "95 % interval; each network one run with one seed):",
        "\n".join(bullets),
        "The margins are not an accident of the fixed masks: scored on the held-out validation images with *other* "
        "masks of the same bins (`scripts/validate_run.py --mask-seed 777`, 1,000 validation images, intervals "
        "± 0.06–0.09 dB), they are +1.14, +1.15 and +1.06 dB for `improved`, +0.48, +0.55 and +0.52 dB for `pconv` "
        "and +0.34, +0.41 and +0.38 dB for `vanilla` against biharmonic. The hybrid adds what a small U-Net does not "
        "learn quickly: the classical fill as its starting point.",
        *_seed_findings(seeds_md),
        "**Only on CIFAR-10.** Every number on this page comes from CIFAR-10 test images, the distribution the "
        "networks were trained on. Notebook 10 runs the same networks and the classical methods on photographs "
        "that are not CIFAR-10 and on medical images.",
        f"**The PConv and the vanilla U-Net.** The shipped PConv U-Net's mean hole PSNR is "
        f"{_span(pconv_minus_vanilla)} dB above the shipped vanilla U-Net's in every group, with a ninth of the "
        "parameters; notebook 07 computes the paired intervals. Those intervals cover the choice of test images, "
        "not the spread between training runs, and the two runs differ in schedule (above). With one run per "
        "network this shows a correct PConv U-Net at least as good as the vanilla U-Net on CIFAR-10, not better; "
        "the seed study measures the spread between runs.",
        f"**Copying instead of smoothing** (notebook 02). `patch` (Criminisi et al.'s priority order, 5 × 5 patches) "
        f"is {_span([-p for p in patch], digits=1)} dB below biharmonic inpainting in every group: a 32 × 32 "
        "photograph rarely holds a second copy of what is missing, and a wrong copy costs more than a blur. On "
        "periodic textures, where the missing part does repeat, it is far ahead "
        "([`benchmarks/README.md`](../benchmarks/README.md)). `database` looks each test image up among the 45,000 "
        "training images the networks learn from and blends its five nearest in: "
        f"{_span([-d for d in database_large])} dB below biharmonic on {_groups_text(LARGE)} holes and "
        f"{_span([-d for d in database_small])} dB below on smaller holes and strokes. The networks, which learnt "
        "from the same 45,000 images, are above both.",
        "**Against the source's figures.** The source's slides report PSNRs of \"78.56\" and \"75.26\" for its "
        "two networks. On this task a 78 dB PSNR would need an RMS error of 0.03 grey levels, so "
        "those numbers cannot be compared with these tables. The slides do not say how they were computed; notebook "
        "03 shows two likely readings: a PSNR computed with peak 255 on images in [0, 1] adds 48.13 dB "
        "(78.56 − 48.13 = 30.4 dB, a plausible whole-image PSNR), and averaging per-pixel PSNRs inflates it "
        "further. The strokes column of the whole-image PSNR table is the closest counterpart.",
        "**The source's conclusions, checked** (notebook 07, section 7; notebook 08):",
        "\n".join([
            "- *\"Vanilla slightly better than partial convolutions\"*: not in these runs (above), with the caveat "
            "of one run per network.",
            "- *\"CNN fills are blurry\"*: yes (the `examples_*.png` figures). A pixel loss is minimised by a "
            "compromise between the plausible fills (L2 by their mean, L1 by their median), which is blurry where "
            "those fills differ, and PSNR, a function of the squared error, rewards the mean.",
            "- *\"SSIM or GAN losses might help\"*: the SSIM loss study is above; the GAN half is the next section.",
        ]),
    ]


def results_readme(results_path=RESULTS, pretrained_dir=PRETRAINED, losses_dir=LOSSES, seeds_md=SEEDS_MD) -> str:
    """The whole of ``results/README.md``."""
    results = reporting.load_results(results_path)
    meta = results["metadata"]
    figures = sorted(p.name for p in Path(results_path).parent.glob("*.png"))
    parts = [
        "<!-- Generated by scripts/update_readme_results.py from results.json and the shipped networks' records: "
        "edit the script, not this file. -->",
        "# Results",
        f"The three shipped networks and {len(meta['methods']) - len(meta['networks'])} classical methods on "
        f"{meta['n_test']} class-balanced CIFAR-10 test "
        "images (seed 0), each image with one mask of every group of the fixed evaluation set "
        "(`course_lib/data/eval_masks.npz`): six groups of irregular holes by the fraction of the image missing, "
        "and thin strokes. Networks are scored on the composite output (known pixels pasted back). "
        "[`results.json`](results.json) holds every number; [`results.md`](results.md) adds the networks' raw "
        "outputs; the figures are " + ", ".join(f"[`{f}`]({f})" for f in figures) + ".",
    ]
    parts += _training_section(results, pretrained_dir, losses_dir, seeds_md)
    parts += [
        "## Scores",
        "The paired table answers \"does the network beat biharmonic inpainting?\" with the mean per-image "
        "difference and its 95 % interval: every method sees the same image–mask pairs, so it is sharper than "
        "comparing two intervals of separate means.",
        reporting.results_table_markdown(results),
        reporting.paired_table_markdown(results),
        reporting.time_table_markdown(results),
    ]
    parts += _findings_section(results, seeds_md)
    parts += _perception_section(PERCEPTION)
    return "\n\n".join(part.rstrip("\n") for part in parts) + "\n"


def _perception_section(perception_dir):
    """Measures beyond PSNR and the adversarial network (notebook 09), if the study is stored."""
    if not (Path(perception_dir) / "perception.json").exists():
        return []
    study = perception_study.load(perception_dir)
    meta = study["metadata"]
    figures = sorted(p.name for p in Path(perception_dir).glob("*.png"))
    return [
        "## Beyond PSNR: blur, content and an adversarial network",
        "Notebook 09. **Sharpness**: the gradient energy of the fill in the (dilated) hole over the truth's, 1 = as "
        "sharp as the truth. **Class kept**: the accuracy of the course's CIFAR-10 classifier on the inpainted images "
        f"(on the same {meta['n_test']} images clean: {study['clean']['accuracy']:.3f}; on the whole test split "
        f"{meta['classifier']['test_accuracy']:.3f}). **Feature distance**: the Fréchet distance between "
        "that classifier's features of the inpainted images and of other real test images (the idea of FID with the "
        "course's own feature network, so not FID; the clean images score "
        f"{study['clean']['feature_distance']:.2f}). The adversarial network is the improved one fine-tuned against a "
        f"PatchGAN discriminator ({meta['epochs']} epochs of 10,000 images, `cpu` profile) at lambda = "
        + ", ".join(f"{v:g}" for v in meta["lambdas"]) + f"; lambda = 0 is its twin without the adversarial term, and "
        f"lambda = {meta['shipped_lambda']:g} is shipped as `adversarial`. Every table: "
        "[`perception/perception.md`](perception/perception.md); the plane: "
        + ", ".join(f"[`{f}`](perception/{f})" for f in figures) + ".",
        "\n".join(f"- {line}" for line in perception_study.findings(study)),
        _perception_runs_sentence(meta),
    ]


def _perception_runs_sentence(meta):
    """Wall time and machine of the lambda study's training runs (from their run.json)."""
    runs = meta["runs"].values()
    minutes = [run["wall_time_s"] / 60 for run in runs]
    machines = sorted({f"{run['hardware']['cpu']}, {run['hardware']['cpu_cores']} cores"
                       + (f", {', '.join(run['hardware']['gpus'])}" if run["hardware"]["gpus"] else ", no GPU")
                       for run in runs})
    return (f"Each fine-tuning run took {min(minutes):.1f}–{max(minutes):.1f} min ({'; '.join(machines)}; "
            "other jobs shared the machine, so the times are upper bounds). The classifier: "
            f"{meta['classifier']['epochs']} epochs, test accuracy {meta['classifier']['test_accuracy']:.3f}, "
            f"{meta['classifier']['wall_time_s'] / 60:.0f} min on the same machine. Every run's settings and "
            "command: [`perception/logs/`](perception/logs/) and `course_lib/data/pretrained/classifier/run.json`.")


# ------------------------------------------------------------------------------------------ files
def readme_with_block(text: str, block: str) -> str:
    if BEGIN not in text or END not in text:
        raise ValueError(f"README.md has no {BEGIN} ... {END} block; add the two markers where the table goes.")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return head + block + tail


def wanted_files() -> dict[Path, str]:
    """``{path: the text this script writes there}``."""
    return {README: readme_with_block(README.read_text(), headline_block()), RESULTS_README: results_readme()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file is out of date")
    args = parser.parse_args(argv)
    try:
        wanted = wanted_files()
    except (OSError, ValueError, KeyError) as error:
        parser.exit(2, f"update_readme_results: {error}\n")
    stale = [path for path, text in wanted.items() if not path.exists() or path.read_text() != text]
    if args.check:
        for path in stale:
            print(f"{path.relative_to(ROOT)} is out of date: run python scripts/update_readme_results.py")
        return 1 if stale else 0
    for path, text in wanted.items():
        path.write_text(text)
        print(f"{path.relative_to(ROOT)}: {'rewritten' if path in stale else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
