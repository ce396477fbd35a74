import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from sklearn_vision.__main__ import main

FROM_SCRATCH = ["--backbone", "small_cnn", "--weights", "none", "--image-size", "32"]


@pytest.fixture
def folder(tmp_path, digits):
    """Three class folders of digit PNGs, an empty file and a stray note."""
    X, y = digits
    root = tmp_path / "digits"
    for index in range(60):
        class_folder = root / f"digit_{y[index]}"
        class_folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(X[index]).save(class_folder / f"{index:03d}.png")
    (root / "digit_1" / "empty.png").touch()
    (root / "digit_2" / "notes.txt").write_text("not an image")
    return root


def run_module(*args, env=None):
    """Run ``python -m sklearn_vision`` with ``args``; the finished process."""
    command = [sys.executable, "-m", "sklearn_vision", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, env=env)


def test_module_help_and_version():
    done = run_module("--help")
    assert done.returncode == 0
    assert "sample-size" in done.stdout and "train" in done.stdout and "predict" in done.stdout
    assert run_module().returncode == 2


def test_tensorflow_start_up_notices_are_kept_off_stderr(tmp_path):
    """The C++ notices are dropped, any other line TensorFlow writes at import is kept."""
    fake = tmp_path / "tensorflow"
    fake.mkdir()
    (fake / "__init__.py").write_text(
        "import os\n"
        "os.write(2, b'WARNING: All log messages before absl::InitializeLog() is called\\n')\n"
        "os.write(2, b'I0000 cudart_stub.cc:31] Could not find cuda drivers on your machine\\n')\n"
        "os.write(2, b'a real problem\\n')\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    # A command fails after importing TensorFlow (the fake), before anything else needs it.
    done = run_module("sample-size", tmp_path / "missing", env=env)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.splitlines()
    assert lines[0] == "a real problem" and len(lines) == 2, done.stderr
    assert lines[1].startswith("sklearn-vision sample-size: error: No such folder")


def test_sample_size_on_bundled_data(tmp_path, capsys):
    record, plot = tmp_path / "results.json", tmp_path / "curve.png"
    args = ["sample-size", "--train-sizes", "20,40,80", "--repeats", "2", "--epochs", "2"]
    status = main([*args, "--target", "0.99", "--json", str(record), "--plot", str(plot), "-q"])
    out = capsys.readouterr().out
    assert status == 0
    assert "handwritten digits (bundled, no download): 1797 images of 10 classes" in out
    assert "TransferImageClassifier('small_cnn')" in out
    # The bundled demo trains its fixed epochs at every size.
    assert "trained from scratch; 2 epochs, no early stopping\n" in out
    assert "Device: CPU (" in out or "Device: GPU (" in out
    for size in (20, 40, 80):
        assert f"\n{size:>8}  " in out  # one table row per size
    assert "held-out images: accuracy" in out and " 2x " in out and "10x " in out
    assert "accuracy 0.99" in out.lower()  # images needed, or not reached
    saved = json.loads(record.read_text())
    assert saved["train_sizes"] == [20, 40, 80] and np.shape(saved["scores"]) == (3, 2)
    assert saved["target"] == 0.99 and saved["n_train"] == 1617
    assert [point["n_samples"] for point in saved["extrapolation"]] == [3234, 8085, 16170]
    # The answer is a range of images, recorded with what to collect next.
    span = saved["samples_needed_range"]
    assert span["confidence"] == 0.8 and set(span) == {"confidence", "low", "high"}
    answer = next(line for line in out.splitlines() if "accuracy 0.99" in line.lower())
    if span["low"] is not None:
        assert f"{span['low']:,.0f}" in answer and "80% range" in answer
    plan = saved["next_round"]
    if plan is not None:
        assert 1.25 * 80 <= plan["train_images"] <= 3 * 80
        assert plan["images"] == int(np.ceil(plan["train_images"] * 1797 / 1617))
        assert f"Next: collect up to {plan['images']:,} images in all and run again" in out
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_sample_size_train_predict_on_a_folder(folder, tmp_path, capsys):
    before = sorted((path, path.read_bytes()) for path in folder.rglob("*") if path.is_file())
    args = ["sample-size", str(folder), *FROM_SCRATCH, "--train-sizes", "6,12,24"]
    record = tmp_path / "record.json"
    assert (
        main(
            [
                *args,
                "--repeats",
                "3",
                "--epochs",
                "2",
                "--target",
                "0.2",
                "-q",
                "--json",
                str(record),
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert "60 images of 3 classes (digit_0 21, digit_1 19, digit_2 20)" in captured.out
    # Each fit decides: the 6- and 12-image fits hold no validation split, the 24-image ones do.
    assert "2 epochs, early stopping where a fit's images hold a validation split" in captured.out
    # 60 images: every one scored at each size, each repeat on its own fold.
    assert "every one of the 60 images is scored at each size" in captured.out
    assert json.loads(record.read_text())["predictions_per_size"] == [60, 60, 60]
    assert "Accuracy 0.2 already reached at 6 images (measured: mean " in captured.out
    assert "empty.png: empty file" in captured.err and "notes.txt: not an image" in captured.err

    model = tmp_path / "model.keras"
    plot = tmp_path / "confusion.png"
    train = ["train", str(folder), *FROM_SCRATCH, "--epochs", "2", "--test-size", "0.25"]
    assert main([*train, "--out", str(model), "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "Trained on 45 images" in out
    assert "Held out, 15 images: accuracy " in out and "balanced accuracy " in out
    assert "Confusion matrix (rows: true class, columns: predicted):" in out
    rows = out.split("columns: predicted):\n")[1].splitlines()[1:4]
    assert [row.split()[0] for row in rows] == ["digit_0", "digit_1", "digit_2"]
    assert sum(int(n) for row in rows for n in row.split()[1:]) == 15
    assert f"Saved to {model}" in out and plot.read_bytes()[:4] == b"\x89PNG"

    files = [str(folder / "digit_0" / "000.png"), str(folder / "digit_1" / "001.png")]
    assert main(["predict", str(model), *files, "--csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "file,label,probability" and len(lines) == 3
    assert lines[1].startswith(f"{files[0]},digit_")
    assert 0 < float(lines[1].split(",")[2]) <= 1

    # A pickle runs code as it loads: refused unless trusted.
    pickled = tmp_path / "model.joblib"
    assert main([*train, "--test-size", "0", "--refit", "--out", str(pickled)]) == 0
    assert "a pickle: it runs code when loaded" in capsys.readouterr().out
    assert main(["predict", str(pickled), files[0]]) == 1
    assert "is not a .keras model" in capsys.readouterr().err
    assert main(["predict", str(pickled), files[0], "--trust-pickle"]) == 0
    assert capsys.readouterr().out.startswith(f"{files[0]}\tdigit_")

    broken = str(folder / "digit_1" / "empty.png")
    assert main(["predict", str(model), files[0], broken]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith(f"{files[0]}\tdigit_")
    assert f"Cannot read image file '{broken}': empty file" in captured.err
    after = sorted((path, path.read_bytes()) for path in folder.rglob("*") if path.is_file())
    assert after == before  # the user's folder is never touched


def test_sample_size_with_patient_groups(tmp_path, digits, capsys, fresh_cache):
    """Groups from a CSV column or from file names: the same whole-group splits."""
    X, y = digits
    root = tmp_path / "scans"
    root.mkdir()
    rows = ["file,finding,patient"]
    for index in range(90):
        patient = f"P{index // 3:02d}"  # 3 images per patient, one class each
        name = f"{patient}_{index:03d}.png"
        Image.fromarray(X[(index // 3) * 3]).save(root / name)
        rows.append(f"{name},digit_{y[(index // 3) * 3]},{patient}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    common = [*FROM_SCRATCH, "--train-sizes", "12,24,48", "--repeats", "1", "--epochs", "1"]
    record = tmp_path / "grouped.json"
    csv_args = ["--csv", str(root / "labels.csv"), "--label-column", "finding"]
    status = main(
        [
            "sample-size",
            *csv_args,
            "--path-column",
            "file",
            "--group-column",
            "patient",
            *common,
            "--test-size",
            "0.25",
            "--json",
            str(record),
            "-q",
        ]
    )
    out = capsys.readouterr().out
    assert status == 0, out
    assert "90 images of 3 classes" in out and "30 groups" in out
    assert "  groups  " in out
    saved = json.loads(record.read_text())
    # Run again with a --cache-dir, twice: the second run reuses the 3 fits, the same scores.
    cached = [*csv_args, "--path-column", "file", "--group-column", "patient", *common]
    cached += ["--test-size", "0.25", "--cache-dir", str(tmp_path / "cache"), "-q"]
    for _ in range(2):
        assert main(["sample-size", *cached, "--json", str(tmp_path / "again.json")]) == 0
        again = json.loads((tmp_path / "again.json").read_text())
        assert again["scores"] == saved["scores"]
    assert (tmp_path / "cache" / "sklearn-vision-fits").is_dir()
    assert again["seconds"] < saved["seconds"]
    # Whole patients of 3 images, but for one cut per class.
    for size, groups in zip([12, 24, 48], saved["train_groups"], strict=True):
        assert size / 3 <= groups <= size / 3 + 3

    folder = tmp_path / "by_class"
    for index in range(90):
        label = f"digit_{y[(index // 3) * 3]}"
        (folder / label).mkdir(parents=True, exist_ok=True)
        name = f"P{index // 3:02d}_{index:03d}.png"
        (folder / label / name).write_bytes((root / name).read_bytes())
    args = ["sample-size", str(folder), "--groups", r"^(P\d+)_", *common, "--test-size", "0.25"]
    assert main([*args, "-q"]) == 0
    assert "30 groups" in capsys.readouterr().out
    assert main(["sample-size", str(folder), "--groups", r"^Q\d+", *common, "-q"]) == 1
    assert "matches no group in 90 file names" in capsys.readouterr().err


def test_errors_are_one_line_with_exit_status(tmp_path, folder, capsys):
    assert main(["sample-size", str(tmp_path / "missing")]) == 1
    assert "error: No such folder" in capsys.readouterr().err
    assert main(["train", str(folder), "--out", "m.joblib", "--weights", "w.h5"]) == 1
    assert "--weights w.h5: no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["sample-size", "--target", "1.5"])
    assert exit_info.value.code == 2


def test_offline_without_imagenet_weights_says_what_to_do(tmp_path, folder):
    # An empty Keras cache, and every download refused by a proxy that is not there.
    nowhere = "http://127.0.0.1:9"
    env = {**os.environ, "KERAS_HOME": str(tmp_path / "keras"), "NO_PROXY": "", "no_proxy": ""}
    env.update({name: nowhere for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY")})
    done = run_module(
        "train", folder, "--out", tmp_path / "m.joblib", "--image-size", "96", env=env
    )
    assert done.returncode == 1, done.stderr
    assert "Could not download the ImageNet weights of MobileNetV2" in done.stderr
    assert "--weights none" in done.stderr


def test_output_paths_are_checked_before_any_work(tmp_path, folder, capsys):
    missing = tmp_path / "no_such_folder"
    cases = [
        (["sample-size", str(folder), "--json", str(missing / "r.json")], "does not exist"),
        (["sample-size", str(folder), "--json", str(tmp_path / "r.txt")], "with .json"),
        (["sample-size", str(folder), "--plot", str(missing / "p.png")], "does not exist"),
        (["sample-size", str(folder), "--plot", str(tmp_path / "p.nope")], "--plot"),
        (
            ["sample-size", str(folder), "--cache-dir", str(folder / "digit_0" / "000.png")],
            "is a file",
        ),
        (["train", str(folder), "--out", str(missing / "m.keras")], "does not exist"),
        (
            [
                "train",
                str(folder),
                "--out",
                str(tmp_path / "m.keras"),
                "--plot",
                str(missing / "c.png"),
            ],
            "does not exist",
        ),
    ]
    for args, message in cases:
        assert main([*args, *FROM_SCRATCH, "-q"]) == 1, args
        captured = capsys.readouterr()
        assert message in captured.err and captured.err.count("\n") == 1, captured.err
        assert "Data:" not in captured.out  # nothing loaded, nothing trained
    assert not missing.exists()


def test_the_model_is_saved_before_the_plot(tmp_path, folder, capsys, monkeypatch):
    from matplotlib.figure import Figure

    def full_disk(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(Figure, "savefig", full_disk)
    model, plot = tmp_path / "model.keras", tmp_path / "confusion.png"
    args = ["train", str(folder), *FROM_SCRATCH, "--epochs", "1", "--test-size", "0.25"]
    assert main([*args, "--out", str(model), "--plot", str(plot), "-q"]) == 1
    assert "No space left on device" in capsys.readouterr().err
    assert model.stat().st_size > 0  # the plot failed, the model was kept


def test_a_class_with_a_single_image(tmp_path, folder, capsys):
    (folder / "digit_9").mkdir()
    (folder / "digit_9" / "only.png").write_bytes((folder / "digit_0" / "000.png").read_bytes())
    model = tmp_path / "model.keras"
    args = ["train", str(folder), *FROM_SCRATCH, "--epochs", "1", "--out", str(model), "-q"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "class 'digit_9' has a single image: kept for training, out of the held-out" in out
    assert "Trained on 55 images" in out and model.exists()  # 54 of 60, and the single one
    # Early stopping needs 2 images of each class in its validation split: this fit
    # decides it cannot, trains every epoch, and says so.
    assert "early stopping where a fit's images hold a validation split" in out
    assert (
        "No early stopping: these images cannot hold out a validation split with every class "
        "on both sides; every epoch ran on all of them." in out
    )
    sizes = ["--train-sizes", "6,12,24", "--repeats", "2", "--epochs", "1", "-q"]
    assert main(["sample-size", str(folder), *FROM_SCRATCH, *sizes]) == 1
    err = capsys.readouterr().err
    assert "class 'digit_9' has a single image: a learning curve needs at least 2" in err
    assert "--classes digit_0,digit_1,digit_2" in err
    kept = ["--classes", "digit_0,digit_1,digit_2"]
    assert main(["sample-size", str(folder), *FROM_SCRATCH, *sizes, *kept]) == 0
    assert "60 images of 3 classes" in capsys.readouterr().out


def test_one_line_errors_of_our_own(tmp_path, folder, capsys):
    manifest = tmp_path / "labels.csv"
    manifest.write_text("file,finding\n000.png,digit_0\n")
    assert main(["sample-size", "--csv", str(manifest), "-q"]) == 1
    err = capsys.readouterr().err
    assert "has no column 'path', 'label'" in err and "give --path-column and --label-column" in err
    empty = tmp_path / "model.joblib"
    empty.touch()
    image = str(folder / "digit_0" / "000.png")
    assert main(["predict", str(empty), image, "--trust-pickle"]) == 1
    assert "is an empty file, not a model" in capsys.readouterr().err
    garbage = tmp_path / "garbage.pkl"
    garbage.write_bytes(b"\x80\x05not a pickle at all")
    assert main(["predict", str(garbage), image, "--trust-pickle"]) == 1
    assert "is not a readable pickle or joblib file" in capsys.readouterr().err


def test_train_sizes_of_whole_numbers_are_counts(folder, capsys):
    # Counts, not fractions: 1 and 2 images are fewer than the 3 classes (checked before fitting).
    assert main(["sample-size", str(folder), *FROM_SCRATCH, "--train-sizes", "1,2,3", "-q"]) == 1
    assert "give subsamples of [1, 2] samples, fewer than the 3 classes" in capsys.readouterr().err
    for bad in ["0.5,2,3", "nan,0.1,0.2", "a,b"]:
        with pytest.raises(SystemExit) as exit_info:
            main(["sample-size", "--train-sizes", bad])
        assert exit_info.value.code == 2
        assert "fractions" in capsys.readouterr().err


def test_sample_size_compares_backbones(folder, tmp_path, capsys):
    record, plot = tmp_path / "both.json", tmp_path / "both.png"
    args = ["sample-size", str(folder), "--backbone", "small_cnn,mobilenet_v2", "--weights"]
    args += ["none", "--image-size", "32", "--epochs", "1", "--no-fine-tune", "--target", "0.5"]
    args += ["--train-sizes", "6,12,24", "--repeats", "2", "-q"]
    assert main([*args, "--json", str(record), "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "== small_cnn ==" in out and "== mobilenet_v2 ==" in out
    assert "TransferImageClassifier('small_cnn')" in out
    assert "TransferImageClassifier('mobilenet_v2')" in out
    summary = next(line for line in out.splitlines() if line.startswith("Images needed for"))
    assert summary.startswith("Images needed for accuracy 0.5 (80% range; ? unbounded): small_cnn ")
    assert "; mobilenet_v2 " in summary
    saved = json.loads(record.read_text())
    assert set(saved["backbones"]) == {"small_cnn", "mobilenet_v2"}
    for name, result in saved["backbones"].items():
        assert result["train_sizes"] == [6, 12, 24] and f"('{name}')" in result["model"]
    assert plot.read_bytes()[:4] == b"\x89PNG"
    assert (
        main(["train", str(folder), "--backbone", "small_cnn,mobilenet_v2", "--out", "m.keras"])
        == 1
    )
    assert "train fits one backbone" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["sample-size", "--backbone", "small_cnn,no_such_net"])
    assert "Unknown backbone 'no_such_net'" in capsys.readouterr().err


def errors(stderr):
    """The lines of ``stderr`` but the folder's unreadable files, listed as it is read."""
    return [line for line in stderr.splitlines() if not line.startswith("  skipped ")]


def test_sample_size_scoring_names_the_score(folder, tmp_path, capsys):
    record = tmp_path / "record.json"
    args = ["sample-size", str(folder), *FROM_SCRATCH, "--train-sizes", "6,12,24"]
    args += ["--repeats", "2", "--epochs", "1", "--target", "0.2", "-q", "--json", str(record)]
    assert main([*args, "--scoring", "balanced_accuracy"]) == 0
    out = capsys.readouterr().out
    saved = json.loads(record.read_text())
    assert saved["scoring"] == "balanced_accuracy"
    # A model that ignores the images scores 1/3 of balanced accuracy on 3 classes.
    assert saved["chance_score"] == pytest.approx(1 / 3)
    assert "Held-out balanced accuracy of the fits at each size:\n  images " in out
    assert "held-out images: balanced accuracy " in out
    answers = ("Balanced accuracy 0.2 already reached", "Images needed for balanced accuracy 0.2")
    assert any(answer in out for answer in answers), out

    # The sensitivity of one class, of two: never predicting it scores 0 (accuracy 0.525).
    binary = ["--classes", "digit_0,digit_1", "--scoring", "recall:digit_1"]
    assert main([*args, *binary]) == 0
    out = capsys.readouterr().out
    saved = json.loads(record.read_text())
    assert saved["scoring"] == "recall:digit_1" and saved["chance_score"] == 0.0
    assert "Held-out recall of digit_1 of the fits at each size:" in out
    answers = ("Recall of digit_1 0.2 already reached", "Images needed for recall of digit_1 0.2")
    assert any(answer in out for answer in answers), out

    # F1 of two classes: the mean of both, no class taken as the positive one.
    assert main([*args, "--classes", "digit_0,digit_1", "--scoring", "f1"]) == 0
    out = capsys.readouterr().out
    assert json.loads(record.read_text())["scoring"] == "f1_macro"
    assert "Held-out macro F1 of the fits at each size:" in out


def test_scoring_errors_come_before_any_fit(folder, capsys):
    args = ["sample-size", str(folder), *FROM_SCRATCH, "--train-sizes", "6,12,24", "-q"]
    assert main([*args, "--scoring", "recall:digit_7"]) == 1
    captured = capsys.readouterr()
    [error] = errors(captured.err)  # the classes are known once the folder is read
    assert error.startswith("sklearn-vision sample-size: error: --scoring recall:digit_7: ")
    assert "no class 'digit_7' in the data" in error
    assert "digit_0, digit_1, digit_2" in error
    assert "Model:" not in captured.out
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--scoring", "precision"])
    assert exit_info.value.code == 2
    assert "recall:CLASS" in capsys.readouterr().err


def test_every_backbone_is_checked_before_the_first_study(folder, capsys):
    args = ["sample-size", str(folder), "--backbone", "small_cnn,mobilenet_v2=missing.h5"]
    args += ["--image-size", "32", "--train-sizes", "6,12,24", "-q"]
    assert main(args) == 1
    captured = capsys.readouterr()
    assert "== small_cnn ==" not in captured.out and "Model:" not in captured.out
    assert errors(captured.err) == [
        "sklearn-vision sample-size: error: --backbone mobilenet_v2=missing.h5: no such file "
        "(use imagenet, none or a path)"
    ]
    with pytest.raises(SystemExit) as exit_info:
        main(["sample-size", "--backbone", "small_cnn,mobilenet_v2="])
    assert exit_info.value.code == 2
    assert "expected NAME or NAME=WEIGHTS" in capsys.readouterr().err


def test_weights_per_backbone(folder, tmp_path, capsys, mobilenet_v2_weights):
    weights = str(mobilenet_v2_weights)
    common = ["--image-size", "32", "--epochs", "1", "--no-fine-tune", "--target", "0.5"]
    common += ["--train-sizes", "6,12,24", "--repeats", "2", "-q"]
    # --weights is every backbone's: small_cnn refuses it before MobileNetV2's study.
    both = ["sample-size", str(folder), "--backbone", "mobilenet_v2,small_cnn"]
    assert main([*both, "--weights", weights, *common]) == 1
    captured = capsys.readouterr()
    assert "== mobilenet_v2 ==" not in captured.out and "Model:" not in captured.out
    [error] = errors(captured.err)
    assert f"--weights {weights}: backbone='small_cnn' is trained from scratch" in error
    assert "--backbone mobilenet_v2=W.h5,small_cnn" in error

    record = tmp_path / "both.json"
    own = ["sample-size", str(folder), "--backbone", f"mobilenet_v2={weights},small_cnn"]
    assert main([*own, *common, "--json", str(record)]) == 0
    out = capsys.readouterr().out
    assert f"TransferImageClassifier('mobilenet_v2'), weights from {weights}, " in out
    assert "TransferImageClassifier('small_cnn'), no pretrained weights, " in out
    saved = json.loads(record.read_text())
    assert saved["scoring"] == "accuracy"
    assert saved["backbones"]["mobilenet_v2"]["weights"] == weights
    assert saved["backbones"]["small_cnn"]["weights"] is None
