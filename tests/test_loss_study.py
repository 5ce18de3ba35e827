"""loss_study: one tiny real run per loss on a fake CIFAR-10, scored together, reloaded from disk."""

import json

import pytest
from fake_cifar import write_fake_cifar

from course_lib import loss_study


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("study")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COURSE_DATA_DIR", str(write_fake_cifar(tmp / "data", per_batch=120)))
        patch.setenv("HOME", str(tmp))  # course_lib.data caches decoded arrays in ~/.cache
        results, logs = loss_study.run(profile="ci", out_dir=tmp / "study", n_test=20, verbose=0)
    return tmp / "study", results, logs


@pytest.mark.long
def test_each_loss_trains_its_own_run(study):
    out_dir, results, logs = study
    assert list(logs) == list(loss_study.LOSSES)
    for loss in loss_study.LOSSES:
        record = json.loads((out_dir / "runs" / loss / "run.json").read_text())
        assert record["settings"]["loss"] == loss and record["settings"]["model"] == "pconv"
        assert record["status"] == "finished"
        assert logs[loss].read_text() == (out_dir / "runs" / loss / "log.csv").read_text()
    assert results["metadata"]["networks"] == [loss_study.network_name(l) for l in loss_study.LOSSES]
    assert set(results["results"]) == {*results["metadata"]["networks"], *loss_study.REFERENCE_METHODS}


@pytest.mark.long
def test_a_stored_study_loads_as_it_was_written(study):
    out_dir, results, logs = study
    loaded, loaded_logs = loss_study.load(out_dir)
    assert loaded == json.loads(json.dumps(results))
    assert loaded_logs == logs


def test_unknown_losses_are_refused_before_training(tmp_path):
    with pytest.raises(ValueError, match="ssim"):
        loss_study.run(profile="ci", out_dir=tmp_path, loss_names=("l1", "vgg"))
    assert not (tmp_path / "runs").exists()


def test_the_course_ships_its_own_study():
    results, logs = loss_study.load()
    assert list(logs) == list(loss_study.LOSSES)
    assert results["metadata"]["networks"] == [loss_study.network_name(l) for l in loss_study.LOSSES]
