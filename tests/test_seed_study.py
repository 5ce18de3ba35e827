"""seed_study: the per-seed summary of an evaluation report, checked against numbers worked out by hand."""

import pytest

from course_lib import seed_study


def _report(means, paired):
    """A minimal evaluate() report: ``means[run][group]`` and ``paired[run][group] = (mean, ci95)``."""
    groups = ["small", "large"]
    return {
        "metadata": {"groups": groups, "n_test": 7},
        "results": {run: {"composite": {g: {"hole_psnr": {"mean": m[g]}} for g in groups}} for run, m in means.items()},
        "paired": {"differences": {run: {"biharmonic": {g: {"mean": p[g][0], "ci95": p[g][1]} for g in groups}}
                                   for run, p in paired.items()}},
    }


MEANS = {"vanilla-s0": {"small": 30.0, "large": 20.0}, "vanilla-s1": {"small": 31.0, "large": 21.0},
         "pconv-s0": {"small": 30.5, "large": 22.0}, "pconv-s1": {"small": 32.0, "large": 23.0}}
PAIRED = {"vanilla-s0": {"small": (0.5, 0.1), "large": (-0.2, 0.1)}, "vanilla-s1": {"small": (0.4, 0.5), "large": (0.3, 0.1)},
          "pconv-s0": {"small": (1.0, 0.2), "large": (0.8, 0.3)}, "pconv-s1": {"small": (1.2, 0.2), "large": (0.9, 0.3)}}


def test_summary_gathers_each_seed_and_every_pairing_of_seeds():
    study = seed_study.summarize(_report(MEANS, PAIRED), networks=("vanilla", "pconv"), seeds=(0, 1))
    assert study["runs"]["pconv"]["large"] == [22.0, 23.0]
    assert study["versus_reference"]["vanilla"]["large"] == [{"mean": -0.2, "ci95": 0.1}, {"mean": 0.3, "ci95": 0.1}]
    small = study["between"]["pconv-vanilla"]["small"]
    # pconv - vanilla over the four pairings: 30.5-30, 32-30, 30.5-31, 32-31
    assert small["min"] == pytest.approx(-0.5) and small["max"] == pytest.approx(2.0)
    assert small["mean"] == pytest.approx((0.5 + 2.0 - 0.5 + 1.0) / 4)
    assert not small["all_positive"] and not small["all_negative"]
    large = study["between"]["pconv-vanilla"]["large"]
    assert large["all_positive"] and large["min"] == pytest.approx(1.0)


def test_markdown_marks_what_holds_for_every_seed():
    text = seed_study.markdown(seed_study.summarize(_report(MEANS, PAIRED), networks=("vanilla", "pconv"), seeds=(0, 1)))
    runs, versus, between = [{line.split("|")[1].strip(): line for line in table.splitlines() if line.startswith("| ")}
                             for table in text.split("\n\n")[1::2]]
    assert "22.50 (spread 1.00)" in runs["pconv"] and "30.50 (spread 1.00)" in runs["vanilla"]
    # pconv beats biharmonic beyond its interval in both groups and both seeds; vanilla in neither
    assert versus["pconv"].count("✓") == 2 and "✓" not in versus["vanilla"]
    assert "-0.20 to +0.30" in versus["vanilla"]
    assert "| -0.50 to +2.00 | +1.00 to +3.00 ✓ |" in between["pconv − vanilla"]


@pytest.mark.parametrize("kwargs, message", [
    (dict(networks=("vanilla", "unet")), "Unknown model 'unet'"),
    (dict(seeds=(0,)), "at least two different seeds"),
    (dict(seeds=(1, 1)), "at least two different seeds"),
])
def test_bad_settings_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        seed_study.summarize(_report(MEANS, PAIRED), **{"networks": ("vanilla", "pconv"), "seeds": (0, 1), **kwargs})


def test_a_missing_study_says_how_to_make_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="compare_seeds.py"):
        seed_study.load(tmp_path)


@pytest.mark.long
def test_a_tiny_study_trains_each_seed_and_scores_the_runs_on_the_same_images(tmp_path, monkeypatch):
    import json

    from fake_cifar import write_fake_cifar

    monkeypatch.setenv("COURSE_DATA_DIR", str(write_fake_cifar(tmp_path / "data", per_batch=120)))
    monkeypatch.setenv("HOME", str(tmp_path))  # course_lib.data caches decoded arrays in ~/.cache
    study = seed_study.run(profile="ci", out_dir=tmp_path / "study", networks=("pconv",), seeds=(0, 3),
                           n_test=20, verbose=0)
    for seed in (0, 3):
        record = json.loads((tmp_path / "study" / "runs" / f"pconv-s{seed}" / "run.json").read_text())
        assert record["settings"]["seed"] == seed and record["status"] == "finished"
    results = json.loads((tmp_path / "study" / "results.json").read_text())
    assert results["metadata"]["networks"] == ["pconv-s0", "pconv-s3"]
    assert study["runs"]["pconv"]["0.5-0.6"] == [results["results"][f"pconv-s{s}"]["composite"]["0.5-0.6"]
                                                 ["hole_psnr"]["mean"] for s in (0, 3)]
    assert seed_study.load(tmp_path / "study") == json.loads(json.dumps(study))


def test_findings_count_the_groups_where_a_conclusion_holds_for_every_seed():
    study = seed_study.summarize(_report(MEANS, PAIRED), networks=("vanilla", "pconv"), seeds=(0, 1))
    vanilla, pconv, gap = seed_study.findings(study)
    # vanilla: small 0.5±0.1 and 0.4±0.5 (the second crosses 0); large -0.2±0.1 and 0.3±0.1 (signs differ)
    assert vanilla == "vanilla − biharmonic: ahead beyond the 95 % interval for all 2 trained seeds in 0 of 2 groups, behind in 0."
    assert pconv.startswith("pconv − biharmonic: ahead beyond the 95 % interval for all 2 trained seeds in 2 of 2 groups")
    assert gap == ("pconv − vanilla: ahead for every pairing of seeds in 1 of 2 groups, behind in 0, the sign depends "
                   "on the seeds in 1 (gaps from -0.50 to +3.00 dB).")


def test_a_run_below_mean_fill_everywhere_is_named_and_left_out_of_the_comparisons():
    means = {**MEANS, "pconv-s1": {"small": 12.0, "large": 11.0}, "mean fill": {"small": 14.0, "large": 13.0}}
    study = seed_study.summarize(_report(means, PAIRED), networks=("vanilla", "pconv"), seeds=(0, 1))
    assert study["failed"] == ["pconv-s1"]
    assert study["runs"]["pconv"]["small"] == [30.5, 12.0]  # reported as it is
    assert study["versus_reference"]["pconv"]["small"] == [{"mean": 1.0, "ci95": 0.2}]  # seed 0 only
    large = study["between"]["pconv-vanilla"]["large"]  # 22 - 20 and 22 - 21: seed 1 of pconv left out
    assert (large["min"], large["max"]) == pytest.approx((1.0, 2.0))
    lines = seed_study.findings(study)
    assert lines[0].startswith("pconv-s1 did not learn to inpaint")
    assert "for its one trained seed" in lines[2]
    assert "| pconv-s1 (did not train) | 12.00 | 11.00 |" in seed_study.markdown(study)
