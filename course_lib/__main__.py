"""Command line: ``python -m course_lib train ...``, ``... evaluate ...``, ``... grade ...`` and
``... train-classifier ...``.

Examples::

    python -m course_lib train --model pconv --profile ci --out build/runs/pconv-ci
    python -m course_lib train --model vanilla --epochs 10 --recipe source --out build/runs/vanilla-source
    python -m course_lib evaluate --checkpoint pconv=build/runs/pconv-ci/best.keras --out build/eval
    python -m course_lib evaluate --pretrained --images my_photos/ --out build/eval-my-photos
    python -m course_lib grade submissions/ --out grades.csv
    python -m course_lib train-classifier --out build/runs/classifier

Running the same ``train`` command again resumes an interrupted run (or returns at once if it
finished; a larger ``--epochs`` continues it).  ``--help`` on each command lists every option.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from course_lib import config, console, masks, names, recipes, validation  # no TensorFlow: --help answers at once


def _whole_number(rule, minimum, what):
    """An argparse type: a whole number that passes ``rule``, a check of :mod:`course_lib.validation`."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        try:
            return rule(value)  # the library's rule
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number >= {minimum}, got {value}") from None

    parse.__doc__ = f"argparse type: an int >= {minimum} ({what})."
    return parse


positive_int = _whole_number(lambda value: validation.check_positive_int("count", value), 1, "counts")
non_negative_int = _whole_number(validation.check_seed, 0, "seeds, worker counts")


def _finite_float(*, zero_ok, what):
    """An argparse type: a finite number > 0 (or >= 0 with ``zero_ok``)."""
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        try:
            return validation.check_number(what, value, zero_ok=zero_ok)  # the library's rule
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a finite number {'>=' if zero_ok else '>'} 0, got {text}") from None

    parse.__doc__ = f"argparse type: a finite float {'>=' if zero_ok else '>'} 0 ({what})."
    return parse


positive_float = _finite_float(zero_ok=False, what="learning rates")
non_negative_float = _finite_float(zero_ok=True, what="warm-up epochs, gradient norms")


def checkpoint_pair(text):
    """argparse type: ``NAME=PATH`` -> ``(NAME, PATH)``."""
    name, sep, path = text.partition("=")
    if not sep or not name.strip() or not path.strip():
        raise argparse.ArgumentTypeError(
            f"expected NAME=PATH (e.g. pconv=build/runs/pconv/best.keras), got {text!r}"
        )
    return name.strip(), path.strip()


def model_names(text):
    """argparse type: ``vanilla,pconv`` -> ``("vanilla", "pconv")``, each one of :data:`names.MODEL_NAMES`."""
    chosen = tuple(name.strip() for name in text.split(",") if name.strip())
    try:
        return tuple(names.check_model_name(name) for name in chosen) or names.MODEL_NAMES
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def build_parser():
    """The ``argparse`` parser of ``python -m course_lib`` with its commands."""
    parser = argparse.ArgumentParser(
        prog="python -m course_lib",
        description="Train and evaluate the course's inpainting networks.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    train = commands.add_parser(
        "train", help="train a network (resumes if --out already holds the run)",
        description="Train a network on CIFAR-10 with fresh masks every epoch. Explicit options "
        "override the profile's values. Running the same command again resumes the run.",
    )
    train.add_argument("--model", required=True, choices=names.MODEL_NAMES, help="which network")
    train.add_argument(
        "--profile", choices=sorted(config.PROFILES),
        help="run size (default: $COURSE_PROFILE, else 'full' with a GPU and 'cpu' without): "
        + "; ".join(f"{p.name}: {p.description}" for p in config.PROFILES.values()),
    )
    train.add_argument("--epochs", type=positive_int, metavar="N",
                       help="total number of epochs (a resumed run trains only the missing ones)")
    train.add_argument("--n-train", type=positive_int, metavar="N", help="training images")
    train.add_argument("--n-val", type=positive_int, metavar="N",
                       help="validation images, held out of the training split")
    train.add_argument("--batch-size", type=positive_int, metavar="N", help="images per step")
    train.add_argument("--recipe", choices=sorted(recipes.RECIPES),
                       help="how to train (default: course): "
                       + "; ".join(f"{r.name}: {r.description}" for r in recipes.RECIPES.values()))
    train.add_argument("--loss", choices=sorted(names.LOSS_NAMES),
                       help="training loss (default: the recipe's)")
    train.add_argument("--masks", choices=sorted(masks.MASK_FAMILIES),
                       help="mask family for training and validation (default: the recipe's)")
    train.add_argument("--seed", type=non_negative_int, default=0, metavar="N",
                       help="random seed (default: 0)")
    train.add_argument("--learning-rate", type=positive_float, default=None, metavar="LR",
                       help="Adam's (peak) step size (default: the recipe's)")
    train.add_argument("--schedule", choices=recipes.SCHEDULES,
                       help="learning-rate schedule (default: the recipe's)")
    train.add_argument("--warmup-epochs", type=non_negative_float, metavar="E",
                       help="epochs of linear warm-up for warmup_cosine (default: the recipe's)")
    train.add_argument("--clipnorm", type=non_negative_float, metavar="C",
                       help="clip gradients to this global norm, 0 = off (default: the recipe's)")
    train.add_argument("--adversarial-weight", type=non_negative_float, metavar="LAMBDA",
                       help="model adversarial only: weight of the adversarial loss (default: the recipe's)")
    train.add_argument("--mixed-precision", action=argparse.BooleanOptionalAction, default=None,
                       help="train in mixed_float16 (default: on in the full profile on a GPU with "
                       "tensor cores, compute capability 7.0 or higher; slow on CPUs)")
    train.add_argument("--multi-gpu", action="store_true",
                       help="train on every GPU (MirroredStrategy): --batch-size images on each, "
                       "the learning rate multiplied by the number of GPUs")
    train.add_argument("--mask-workers", type=non_negative_int, default=None, metavar="N",
                       help="draw training masks in N worker processes (default: 0 on a CPU, all "
                       "cores but two, at most 8, with a GPU); the masks are the same either way")
    train.add_argument("--quiet", action="store_true",
                       help="one line per epoch instead of a progress bar")
    train.add_argument("--out", required=True, metavar="DIR",
                       help="output folder (log.csv, best.keras, final.keras, run.json)")
    train.set_defaults(handler=run_train, command_parser=train)

    classify = commands.add_parser(
        "train-classifier", help="train the CIFAR-10 classifier behind the measures beyond PSNR",
        description="Train the course's small CIFAR-10 classifier (course_lib.classifier), whose accuracy "
        "on inpainted images and whose features (a Frechet distance) score fills beyond PSNR. "
        "Running the same command again resumes the run.",
    )
    classify.add_argument("--epochs", type=positive_int, metavar="N", help="epochs (default: 25)")
    classify.add_argument("--n-train", type=positive_int, metavar="N",
                          help="training images (default: the 45,000 not held out)")
    classify.add_argument("--seed", type=non_negative_int, default=0, metavar="N", help="random seed (default: 0)")
    classify.add_argument("--out", required=True, metavar="DIR",
                          help="output folder (log.csv, best.keras, final.keras, run.json)")
    classify.set_defaults(handler=run_train_classifier, command_parser=classify)

    evaluate = commands.add_parser(
        "evaluate", help="score networks and classical methods on the fixed test masks",
        description="Evaluate checkpoints (and the classical methods) on the CIFAR-10 test split, or on "
        "other images (--images, --photographs), with the fixed evaluation masks; writes JSON, Markdown "
        "and figures to --out.",
    )
    evaluate.add_argument(
        "--checkpoint", action="append", type=checkpoint_pair, metavar="NAME=PATH",
        help="a network to evaluate, e.g. pconv=build/runs/pconv/best.keras (repeatable); "
        "NAME starts with its model kind: vanilla, pconv, pconv-liu, ...",
    )
    evaluate.add_argument(
        "--pretrained", nargs="?", const=names.MODEL_NAMES, type=model_names, metavar="NAMES",
        help="also evaluate the course's pretrained networks (course_lib/data/pretrained/): all of them, or "
        "those named, comma-separated (e.g. --pretrained vanilla,pconv,improved)",
    )
    other_images = evaluate.add_mutually_exclusive_group()
    other_images.add_argument(
        "--images", metavar="DIR",
        help="score the PNG and JPEG images of DIR instead of CIFAR-10 (each centre-cropped to a square "
        "and shrunk to 32 x 32 with anti-aliasing)")
    other_images.add_argument(
        "--photographs", type=positive_int, metavar="N",
        help="score N random crops of scikit-image's sample photographs, shrunk to 32 x 32, instead of "
        "CIFAR-10 (--seed picks the crops)")
    evaluate.add_argument("--n-test", type=positive_int, metavar="N",
                          help="test images (default: the profile's; with --images or --photographs: "
                          "the first N of them)")
    evaluate.add_argument("--seed", type=non_negative_int, default=0, metavar="N",
                          help="random seed (default: 0)")
    evaluate.add_argument("--out", required=True, metavar="DIR",
                          help="output folder for the results")
    evaluate.set_defaults(handler=run_evaluate, command_parser=evaluate)

    grade = commands.add_parser(
        "grade", help="run the students' notebooks and tabulate their exercise checks",
        description="Run each submitted notebook in a fresh kernel in the ci profile and write one row per "
        "student, one column per exercise (correct, wrong, not attempted, error); print how many got each "
        "exercise right. The notebooks run as you, unsandboxed: grade untrusted ones in a container.",
    )
    grade.add_argument("submissions", metavar="SUBMISSIONS_DIR",
                       help="a folder of <student>.ipynb files or of <student>/ folders of notebooks")
    grade.add_argument("--out", required=True, metavar="CSV", help="the grades, one row per student")
    grade.add_argument("--summary", metavar="CSV", help="also write the per-exercise counts here")
    grade.add_argument("--timeout", type=positive_int, default=600, metavar="S",
                       help="seconds per notebook before its kernel is killed (default: 600)")
    grade.add_argument("--cell-timeout", type=positive_int, default=300, metavar="S",
                       help="seconds per cell before it is interrupted and the next cell runs (default: 300)")
    grade.add_argument("--kernel", default="python3", metavar="NAME",
                       help="the Jupyter kernel to run the notebooks in (default: python3)")
    grade.add_argument("--executed", metavar="DIR",
                       help="keep each executed notebook there, as DIR/<student>/<notebook>.ipynb")
    grade.set_defaults(handler=run_grade, command_parser=grade)
    return parser


def run_settings(args) -> dict:
    """The settings ``train`` options give, as keyword arguments of
    :func:`course_lib.train.resolve_settings` (and of :func:`course_lib.train.train`)."""
    return dict(profile=args.profile, epochs=args.epochs, n_train=args.n_train, n_val=args.n_val,
                batch_size=args.batch_size, recipe=args.recipe, loss=args.loss, masks=args.masks, seed=args.seed,
                mixed_precision=args.mixed_precision, learning_rate=args.learning_rate, schedule=args.schedule,
                warmup_epochs=args.warmup_epochs, clipnorm=args.clipnorm, multi_device=args.multi_gpu,
                adversarial_weight=args.adversarial_weight)


def run_train(args):
    console.start_tensorflow_quietly()
    from course_lib.train import train

    result = train(args.model, out_dir=args.out, **run_settings(args), mask_workers=args.mask_workers,
                   verbose=2 if args.quiet else 1)
    val_losses = result.history.get("val_loss", [])
    best = f"best val_loss {min(val_losses):.4f}, " if val_losses else ""
    print(f"done: {len(val_losses)} epochs, {best}best model {result.best_path}, "
          f"log {result.log_path}")
    return 0


def run_train_classifier(args):
    console.start_tensorflow_quietly()
    from course_lib.classifier import train_classifier

    _, record = train_classifier(args.out, epochs=args.epochs, n_train=args.n_train, seed=args.seed)
    print(f"done: test accuracy {record['test_accuracy']:.4f}, model {args.out}/final.keras")
    return 0


def _other_images(args) -> dict:
    """``evaluate``'s ``images`` and ``images_source`` for --images or --photographs, else ``{}``."""
    from course_lib import photographs

    if args.images is not None:  # read before TensorFlow starts, so that a bad folder fails at once
        return {"images": photographs.load_image_folder(args.images), "images_source": f"the images of {args.images}"}
    if args.photographs is not None:
        return {"images": photographs.sample_photographs(args.photographs, seed=args.seed),
                "images_source": "random crops of scikit-image's sample photographs, shrunk to 32 x 32 "
                                 "(course_lib.photographs.sample_photographs)"}
    return {}


def run_evaluate(args):
    other_images = _other_images(args)
    console.start_tensorflow_quietly()
    from course_lib.evaluate import evaluate

    checkpoints = dict(args.checkpoint) if args.checkpoint else {}
    if args.pretrained:
        from course_lib.pretrained import load_pretrained

        checkpoints.update({name: (name, load_pretrained(name)) for name in args.pretrained})
    checkpoints = checkpoints or None
    evaluate(checkpoints, n_test=args.n_test, out_dir=args.out, seed=args.seed, **other_images)
    print(f"done: results in {args.out}")
    return 0


def run_grade(args):
    from course_lib.grade import grade

    grades = grade(args.submissions, args.out, timeout=args.timeout, cell_timeout=args.cell_timeout,
                   kernel=args.kernel, summary=args.summary, executed_dir=args.executed)
    print(f"done: {len(grades.rows)} submissions graded, grades in {args.out}")
    return 0


def main(argv=None):
    """Parse ``argv`` (default ``sys.argv[1:]``) and run the command; returns the exit code.

    Bad options exit with code 2, the usage and a message (argparse). Errors found while running
    (settings that do not fit together, CIFAR-10 missing or damaged, an --images folder without
    readable images, an --out that is a file, ...: ValueError and OSError) print one line,
    ``python -m course_lib COMMAND: error: ...``, and exit with code 1.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    previous_handler = _catch_sigterm()
    try:
        return args.handler(args)
    except (ValueError, OSError) as error:  # bad settings, missing or damaged data, unusable --out
        message = " ".join(str(error).split())
        print(f"{args.command_parser.prog}: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted: run the same command again to resume.", file=sys.stderr)
        return 130
    except Terminated:
        print("\nterminated (SIGTERM): run the same command again to resume.", file=sys.stderr)
        return 128 + signal.SIGTERM
    finally:
        if previous_handler is not None:
            signal.signal(signal.SIGTERM, previous_handler)


class Terminated(Exception):
    """SIGTERM arrived (``kill``, a job scheduler, the end of a session)."""


def _raise_terminated(signum, frame):
    raise Terminated


def _catch_sigterm():
    """Turn SIGTERM into :class:`Terminated`, so that a run's ``finally`` records its session.

    By default SIGTERM ends Python at once, and ``run.json`` would not say which epochs the
    session trained.  Returns the previous handler (None where signals cannot be caught: not
    the main thread).
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _raise_terminated)


if __name__ == "__main__":
    sys.exit(main())
