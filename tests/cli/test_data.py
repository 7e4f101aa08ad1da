"""CSV reading and splitting: numpy only, no training."""

import numpy as np
import pytest

from keras_lossopt.cli import data
from keras_lossopt.cli._errors import CLIError


def write(tmp_path, text, name="d.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_split_is_seeded_standardized_and_disjoint():
    x = np.arange(40, dtype="float64").reshape(20, 2) * [1.0, 10.0]
    y = np.arange(20, dtype="float64") * 3.0 + 7.0
    a = data.split_and_scale("t", "regression", x, y, val_fraction=0.25, seed=3)
    b = data.split_and_scale("t", "regression", x, y, val_fraction=0.25, seed=3)
    np.testing.assert_array_equal(a.x_val, b.x_val)
    assert (len(a.x_train), len(a.x_val)) == (15, 5)
    np.testing.assert_allclose(a.x_train.mean(0), 0.0, atol=1e-6)
    np.testing.assert_allclose(a.x_train.std(0), 1.0, atol=1e-5)
    # Standardized targets map back to the original rows.
    back = a.y_val[:, 0] * a.target_scale + a.target_mean
    assert set(np.round(back, 4)) <= set(np.round(y, 4))
    c = data.split_and_scale("t", "regression", x, y, val_fraction=0.25, seed=4)
    assert not np.array_equal(a.x_val, c.x_val)


def test_read_csv_encodes_categorical_target(tmp_path):
    rows = ["a,b,label"] + [f"{i},{i % 3},{'cat' if i % 2 else 'dog'}" for i in range(10)]
    ds = data.read_csv(write(tmp_path, "\n".join(rows)), "label", "binary", seed=0)
    assert ds.classes == ["cat", "dog"]
    assert ds.feature_names == ["a", "b"]
    assert sorted(set(ds.y_train.tolist()) | set(ds.y_val.tolist())) == [0, 1]
    assert ds.x_train.dtype == np.float32 and ds.n_features == 2


def test_numeric_class_labels_sort_numerically(tmp_path):
    rows = ["x,y"] + [f"{i},{[2, 10, 1][i % 3]}" for i in range(9)]
    ds = data.read_csv(write(tmp_path, "\n".join(rows)), "y", "multiclass")
    assert ds.classes == ["1", "2", "10"]


@pytest.mark.parametrize(
    "text, target, task, fragment",
    [
        ("a,b\n1,2\n3,4\n", "c", "regression", "Target column 'c' is not in"),
        ("a,b\nred,2\n3,4\n", "b", "regression", "Feature column 'a' is not numeric in 1 row (line 2: 'red')"),
        ("a,b\n,2\n3,4\n", "b", "regression", "Feature column 'a' has 1 missing value (line 2)"),
        ("a,b\n1,x\n3,y\n", "b", "regression", "Task 'regression' needs a numeric target"),
        ("a,b\n1,2\n3\n", "b", "regression", "line 3: 1 fields"),
        ("a,b\n1,2\n", "b", "cluster", "--task must be one of"),
        ("a\n1\n2\n", "a", "regression", "no feature columns"),
    ],
)
def test_bad_csv_is_a_one_line_error(tmp_path, text, target, task, fragment):
    with pytest.raises(CLIError) as info:
        data.read_csv(write(tmp_path, text), target, task)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_binary_task_with_seven_classes_is_refused(tmp_path):
    rows = ["x,y"] + [f"{i},{i % 7}" for i in range(21)]
    with pytest.raises(CLIError, match=r"exactly 2 classes, but column 'y' has 7 .*multiclass"):
        data.read_csv(write(tmp_path, "\n".join(rows)), "y", "binary")


def test_close_column_names_are_suggested(tmp_path):
    with pytest.raises(CLIError, match="Did you mean 'price'"):
        data.read_csv(write(tmp_path, "size,price\n1,2\n3,4\n"), "prices", "regression")


def test_missing_file(tmp_path):
    with pytest.raises(CLIError, match="No such file"):
        data.read_csv(str(tmp_path / "nope.csv"), "y", "regression")


def test_builtin_data_sets_have_the_lab_shapes():
    ds = data.load_builtin("breast_cancer", seed=0)
    assert ds.task == "binary" and ds.n_features == 30 and ds.n_classes == 2
    assert len(ds.x_train) + len(ds.x_val) == 569
    assert len(ds.x_val) == round(0.2 * 569)


def test_a_directory_is_not_a_missing_file(tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    with pytest.raises(CLIError, match=r"is a directory; give a CSV file; it holds no \.csv"):
        data.read_csv(str(folder), "y")
    (folder / "houses.csv").write_text("a,y\n1,2\n")
    with pytest.raises(CLIError) as info:
        data.read_csv(str(folder), "y")
    assert f"is a directory; give a CSV file such as {folder / 'houses.csv'}" in str(info.value)
    assert "No such file" not in str(info.value)


def test_every_bad_cell_is_counted(tmp_path):
    text = ("a,b,c,y\n"
            "1,,x,1\n"
            "2,NA,y,\n"
            "3,4,5,0\n"
            ",1,z,1\n"
            "5,6,w,0\n")
    with pytest.raises(CLIError) as info:
        data.read_csv(write(tmp_path, text), "y", "binary")
    message = str(info.value)
    assert "Feature column 'a' has 1 missing value (line 5)" in message
    assert "feature column 'b' has 2 missing values (lines 2, 3)" in message
    assert ("feature column 'c' is not numeric in 4 rows (line 2: 'x', line 3: 'y', "
            "line 5: 'z' and 1 more)") in message
    assert "target column 'y' has 1 missing value (line 3)" in message
    assert "\n" not in message
    ragged = write(tmp_path, "a,b\n1\n1,2\n1,2,3\n4\n", name="ragged.csv")
    with pytest.raises(CLIError, match=r"3 lines with another number of fields than the "
                                       r"header's 2 \(line 2: 1 fields, line 4: 3 fields"):
        data.read_csv(ragged, "b", "regression")


@pytest.mark.parametrize("task", ["binary", "multiclass", None])
def test_a_one_class_target_says_there_is_nothing_to_classify(tmp_path, task):
    path = write(tmp_path, "x,y\n1,spam\n2,spam\n3,spam\n4,spam\n")
    with pytest.raises(CLIError) as info:
        data.read_csv(path, "y", task)
    message = str(info.value)
    assert "'spam'" in message and "nothing to" in message
    assert "regression" not in message  # a single class is no regression target either


@pytest.mark.parametrize("cells, task", [
    (["1.5", "2.25", "3", "4"], "regression"),  # numbers with fractions
    (["0.5", "1.5", "0.5", "1.5"], "binary"),  # two values, whatever they are
    (["yes", "no", "no", "yes"], "binary"),
    ([str(i % 4) for i in range(12)], "multiclass"),  # few integers
    ([str(i % 4) + ".0" for i in range(12)], "multiclass"),  # integers written as floats
    ([str(i) for i in range(40)], "regression"),  # an integer per row is a quantity
    ([str(i % 30) for i in range(300)], "regression"),  # more than MAX_INFERRED_CLASSES
    (["cat", "dog", "bird", "cat"], "multiclass"),  # labels
])
def test_the_task_is_inferred_from_the_target(cells, task):
    assert data.infer_task(cells)[0] == task


def test_read_csv_infers_the_task_and_keeps_the_class_encoding(tmp_path):
    rows = ["a,b,label"] + [f"{i},{i % 3},{'cat' if i % 2 else 'dog'}" for i in range(10)]
    path = write(tmp_path, "\n".join(rows))
    ds = data.read_csv(path, "label")
    assert (ds.task, ds.task_reason) == ("binary", "2 distinct values")
    info = ds.target_info()
    assert info["classes"] == {"0": "cat", "1": "dog"} and info["positive_class"] == "dog"
    assert info["target"] == "label" and info["task_inferred"] == "2 distinct values"
    text = "\n".join(ds.target_lines())
    assert "task binary (inferred from the target: 2 distinct values" in text
    assert "0 = 'cat', 1 = 'dog'" in text and "positive class" in text and "'dog'" in text
    # --task overrides the inference.
    given = data.read_csv(path, "label", "multiclass")
    assert (given.task, given.task_reason) == ("multiclass", None)
    assert "given by --task" in given.target_lines()[0]
    regression = data.read_csv(write(tmp_path, "a,y\n1,0.5\n2,1.25\n3,7.5\n4,2\n", "r.csv"), "y")
    assert regression.task == "regression" and "classes" not in regression.target_info()
