"""`compare` on the user's own CSV: the task is inferred and the class encoding reported."""

import json

import numpy as np


def test_compare_infers_the_task_and_reports_the_class_encoding(cli, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2))
    label = np.where(x[:, 0] > 0, "stayed", "churned")
    path = tmp_path / "churn.csv"
    path.write_text("f1,f2,answer\n" + "".join(f"{a:.4f},{b:.4f},{t}\n"
                                               for (a, b), t in zip(x, label)))
    out = tmp_path / "cmp"
    ran = cli("compare", "--data", path, "--target", "answer", "--losses",
              "binary_crossentropy", "--optimizers", "adam", "--epochs", "1", "--budget", "1",
              "--seeds", "1", "--no-plots", "-q", "--out", out)  # no --task
    assert ran.code == 0, ran.out + ran.err
    assert ("Target 'answer': task binary (inferred from the target: 2 distinct values; "
            "--task overrides)") in ran.out
    assert "0 = 'churned', 1 = 'stayed'" in ran.out
    assert "positive class (1, the model's probability): 'stayed'" in ran.out
    payload = json.loads((out / "report.json").read_text())
    assert payload["settings"]["task"] == "binary"
    assert payload["data"] == {"churn": {
        "target": "answer", "task": "binary", "task_inferred": "2 distinct values",
        "classes": {"0": "churned", "1": "stayed"}, "positive_class": "stayed"}}
