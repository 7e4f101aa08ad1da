"""NumPy transcriptions of TensorFlow Addons' own test references, for the migration rows.

Written from TFA's last commit (tensorflow/addons), not from our code:
- `adamw_step`, `sgdw_step`: tensorflow_addons/optimizers/tests/weight_decay_optimizers_test.py
  (`adamw_update_numpy`, `sgdw_update_numpy`): the decay is `param * (1 - wd)`, not
  scaled by the learning rate.
- `lamb_step`: tensorflow_addons/optimizers/tests/lamb_test.py (`lamb_update_numpy`):
  the decay `wd * param` is added to the update inside the trust ratio.
- `radam_warmup_lr`: tensorflow_addons/optimizers/rectified_adam.py, `_resource_apply_dense`
  with `total_steps > 0` (local_step = iterations + 1).
"""

import numpy as np


def adamw_step(param, grad, state, lr, beta_1, beta_2, epsilon, wd):
    t = state.get("t", 0) + 1
    lr_t = lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    state["m"] = beta_1 * state.get("m", 0) + (1 - beta_1) * grad
    state["v"] = beta_2 * state.get("v", 0) + (1 - beta_2) * grad**2
    state["t"] = t
    return param * (1 - wd) - lr_t * state["m"] / (np.sqrt(state["v"]) + epsilon)


def sgdw_step(param, grad, state, lr, momentum, wd):
    state["m"] = momentum * state.get("m", 0) + grad
    return param * (1 - wd) - lr * state["m"]


def lamb_step(param, grad, state, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-6, wd=0.0):
    t = state.get("t", 0)
    state["m"] = beta_1 * state.get("m", 0) + (1 - beta_1) * grad
    state["v"] = beta_2 * state.get("v", 0) + (1 - beta_2) * grad * grad
    state["t"] = t + 1
    m_hat = state["m"] / (1 - beta_1 ** (t + 1))
    v_hat = state["v"] / (1 - beta_2 ** (t + 1))
    update = m_hat / (np.sqrt(v_hat) + epsilon) + wd * param
    w_norm, g_norm = np.linalg.norm(param), np.linalg.norm(update)
    ratio = np.where(w_norm > 0, np.where(g_norm > 0, w_norm / g_norm, 1.0), 1.0)
    return param - ratio * lr * update


def radam_warmup_lr(iterations, lr, total_steps, warmup_proportion, min_lr):
    step = iterations + 1.0
    warmup_steps = total_steps * warmup_proportion
    decay_steps = max(total_steps - warmup_steps, 1)
    decay_rate = (min_lr - lr) / decay_steps
    if step <= warmup_steps:
        return lr * (step / warmup_steps)
    return lr + decay_rate * min(step - warmup_steps, decay_steps)
