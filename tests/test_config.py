"""course_lib.config: the profiles describe themselves in one readable line."""

from course_lib import config


def test_describe_gives_the_sizes_in_one_line_without_the_dataclass_repr():
    whole_split = config.Profile("demo", n_train=None, n_val=5_000, n_test=None, epochs=3, batch_size=16,
                                 description="not shown")
    assert whole_split.describe() == ("run profile 'demo': 45,000 training images (5,000 more held out to validate), "
                                      "3 epochs of batch 16, all 10,000 test images")
    subset = config.Profile("tiny", n_train=1_200, n_val=64, n_test=200, epochs=2, batch_size=32, description="")
    assert subset.describe() == ("run profile 'tiny': 1,200 training images (64 more held out to validate), "
                                 "2 epochs of batch 32, 200 test images")


def test_every_shipped_profile_describes_itself():
    for name, profile in config.PROFILES.items():
        line = profile.describe()
        assert line.startswith(f"run profile {name!r}: ") and "\n" not in line and "Profile(" not in line
