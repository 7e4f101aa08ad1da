"""The lab's comparison protocol: an equal learning-rate budget, several seeds, a test split.

For every (task, loss, optimizer):

1. **Learning-rate trials.** `lr_trials` (K) runs at rates on a log grid centred on
   the optimizer's own default (the rate its spec sets, else its constructor's
   default), `LR_STEP` (half a decade) apart, all with the first seed. The rate
   whose run ends with the lowest *validation* loss is chosen.
2. **Seeds.** `seeds` (S) runs at the chosen rate; the first is the selection
   trial itself (same seed, same rate), the others use the next seeds. A seed sets
   the initial weights and the mini-batch order; the data split stays fixed.
3. **Test.** Each seed's final model is scored once on a test split that no
   selection step reads; the tables show the mean and the standard deviation over
   the seeds.

So every optimizer trains exactly `K + S - 1` times on every loss. Results whose
mean +- std intervals overlap are ties (`tiers`), not a strict ranking.

Imported when the parser is built: standard library only at module level.
"""

import dataclasses
import math
import statistics

from keras_lossopt.cli import common, specs
from keras_lossopt.cli._errors import CLIError

LR_STEP = math.sqrt(10.0)  # grid spacing: half a decade
SELECTION = "lowest final validation loss of the learning-rate trials (first seed)"
DEFAULT_LR_TRIALS = 3
DEFAULT_SEEDS = 3
FULL_LR_TRIALS = 5
FULL_SEEDS = 5
VAL_FRACTION = 0.2
TEST_FRACTION = 0.2


@dataclasses.dataclass
class Protocol:
    """How much each (loss, optimizer) gets: `lr_trials` rates, then `seeds` seeds."""

    lr_trials: int = DEFAULT_LR_TRIALS
    seeds: int = DEFAULT_SEEDS
    seed: int = 0  # the first seed (selection trials); then seed + 1, ...
    val_fraction: float = VAL_FRACTION
    test_fraction: float = TEST_FRACTION

    @property
    def runs_per_pair(self):
        """Trainings per (loss, optimizer): K trials, then S - 1 more seeds."""
        return self.lr_trials + self.seeds - 1

    @property
    def seed_list(self):
        return [self.seed + i for i in range(self.seeds)]

    def grid(self, default_lr):
        """K rates, log-spaced by `LR_STEP`, centred on `default_lr` (the default
        itself is on the grid when K is odd)."""
        centre = (self.lr_trials - 1) / 2.0
        return [float(f"{default_lr * LR_STEP ** (i - centre):.3g}")
                for i in range(self.lr_trials)]

    def to_dict(self):
        """The `"protocol"` object of report.json."""
        return {
            "lr_trials": self.lr_trials,
            "lr_grid": f"log grid centred on each optimizer's default learning rate, "
                       f"x{LR_STEP:.3g} (half a decade) apart",
            "seeds": self.seeds,
            "seed_values": self.seed_list,
            "selection": SELECTION,
            "runs_per_loss_and_optimizer": self.runs_per_pair,
            "splits": {
                "train": round(1.0 - self.val_fraction - self.test_fraction, 6),
                "validation": self.val_fraction, "test": self.test_fraction,
                "seed": self.seed,
                "used_for": {"train": "fitting", "validation": "choosing the learning rate, "
                             "epochs to target", "test": "the reported metric only"},
            },
        }

    def describe(self):
        return (f"{self.lr_trials} learning rates per optimizer (log grid around its "
                f"default, x{LR_STEP:.3g} apart) chosen on the validation split, then "
                f"{self.seeds} seed{'s' if self.seeds != 1 else ''} at the chosen rate, "
                f"scored on a held-out test split ({self.runs_per_pair} trainings per "
                "loss and optimizer)")


def add_arguments(parser):
    """--budget, --seeds, --full, --test-fraction."""
    group = parser.add_argument_group("protocol (equal tuning budget for every optimizer)")
    group.add_argument("--budget", type=int, metavar="K",
                       help=f"learning rates tried per optimizer (default {DEFAULT_LR_TRIALS}, "
                       f"--full {FULL_LR_TRIALS})")
    group.add_argument("--seeds", type=int, metavar="S",
                       help=f"seeds at the chosen rate (default {DEFAULT_SEEDS}, --full "
                       f"{FULL_SEEDS})")
    group.add_argument("--full", action="store_true",
                       help=f"the bigger study: every default loss, --budget {FULL_LR_TRIALS} "
                       f"--seeds {FULL_SEEDS}")
    group.add_argument("--test-fraction", type=float, default=TEST_FRACTION,
                       help=f"share of rows held out for the final test (default "
                       f"{TEST_FRACTION}); selection never reads them")


def from_args(args, val_fraction=VAL_FRACTION):
    """The Protocol of parsed arguments (a CLIError for a bad value)."""
    lr_trials = args.budget if args.budget is not None else (
        FULL_LR_TRIALS if args.full else DEFAULT_LR_TRIALS)
    seeds = args.seeds if args.seeds is not None else (FULL_SEEDS if args.full else DEFAULT_SEEDS)
    common.check_at_least("--budget", lr_trials)
    common.check_at_least("--seeds", seeds)
    if not 0.0 < args.test_fraction < 1.0 or not val_fraction + args.test_fraction < 0.9:
        raise CLIError(f"--test-fraction must be in (0, 1) and leave at least 10% of the rows "
                       f"for training with the validation share {val_fraction}. Received: "
                       f"--test-fraction={args.test_fraction}")
    return Protocol(lr_trials=lr_trials, seeds=seeds, seed=args.seed,
                    val_fraction=val_fraction, test_fraction=args.test_fraction)


def split_test(dataset, share, seed=0):
    """`dataset` with its held-out rows divided: `share` of them become the test
    split, the rest stay the validation split. Load the data set with the
    validation share val + test, and pass `share = test / (val + test)`.

    The scaling was computed on the training rows only, so neither split leaks
    into it; the division is seeded by the split seed."""
    import numpy as np

    n_held = len(dataset.x_val)
    n_test = int(round(n_held * share))
    if n_test < 1 or n_held - n_test < 1:
        raise CLIError(f"{dataset.name}: too few rows ({n_held} held out) for both a "
                       "validation and a test split.")
    order = np.random.default_rng(seed + 1).permutation(n_held)
    test_idx, val_idx = order[:n_test], order[n_test:]
    return dataclasses.replace(
        dataset, x_val=dataset.x_val[val_idx], y_val=dataset.y_val[val_idx],
        x_test=dataset.x_val[test_idx], y_test=dataset.y_val[test_idx])


# --- Results -----------------------------------------------------------------------------


@dataclasses.dataclass
class PairResult:
    """One (task, loss, optimizer) under the protocol: its trials, seeds and test score."""

    task: str
    dataset: str
    loss: str
    optimizer: str
    metric: str
    goal: float
    learning_rates_tried: list
    selection_scores: list  # final validation loss of each trial (None: diverged/failed)
    learning_rate: float  # the chosen rate
    lr_at_grid_edge: bool
    seeds: list
    test_metric_per_seed: list
    test_metric_mean: float
    test_metric_std: float
    test_loss_mean: float
    epochs_to_target: float  # median over seeds; None when most seeds never reached it
    epochs_to_target_per_seed: list
    wall_time_s: float  # all K + S - 1 trainings
    doctor: str  # the seeds' most frequent verdict
    n_runs: int
    error: str = None
    tier: int = None  # 1 = best; equal tiers are ties
    note: str = None  # why a result stands where it does (e.g. RAdam's warm-up)
    val_loss_curves: list = dataclasses.field(default_factory=list)  # one per seed

    def row(self):
        """The flat (CSV) form: lists joined with ';', no curves."""
        out = dataclasses.asdict(self)
        out.pop("val_loss_curves")
        for key in ("learning_rates_tried", "selection_scores", "seeds",
                    "test_metric_per_seed", "epochs_to_target_per_seed"):
            out[key] = ";".join("" if v is None else f"{v:.6g}" if isinstance(v, float)
                                else str(v) for v in out[key])
        return out


def higher_is_better(task):
    return task != "regression"


def _mean_std(values):
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return float("nan"), float("nan")
    mean = statistics.fmean(finite)
    std = statistics.stdev(finite) if len(finite) > 1 else 0.0
    return mean, std


def _score(result):
    value = result.final_val_loss
    return value if value is not None and math.isfinite(value) else None


def choose(trials):
    """Index of the trial with the lowest final validation loss (None: every trial
    failed or diverged). Ties go to the lower rate."""
    scored = [(s, i) for i, s in enumerate(_score(t) for t in trials) if s is not None]
    return min(scored)[1] if scored else None


def aggregate(plan, loss_spec, optimizer_spec, grid, trials, seed_runs):
    """The PairResult of the K `trials` and the S `seed_runs` (the first seed run is
    the chosen trial)."""
    chosen = choose(trials)
    runs = trials + seed_runs[1:]
    base = dict(task=plan.dataset.task, dataset=plan.dataset.name, loss=loss_spec.label,
                optimizer=optimizer_spec.label, metric=plan.metric, goal=plan.goal,
                learning_rates_tried=grid,
                selection_scores=[_score(t) for t in trials],
                wall_time_s=round(sum(r.wall_time_s for r in runs), 2), n_runs=len(runs))
    if chosen is None:
        errors = [t.error for t in trials if t.error]
        return PairResult(
            **base, learning_rate=None, lr_at_grid_edge=False, seeds=[],
            test_metric_per_seed=[], test_metric_mean=float("nan"),
            test_metric_std=float("nan"), test_loss_mean=float("nan"),
            epochs_to_target=None, epochs_to_target_per_seed=[],
            doctor="error" if errors else "diverged",
            error=errors[0] if errors else None)
    test = [r.test_metric for r in seed_runs]
    mean, std = _mean_std(test)
    to_target = [r.epochs_to_goal for r in seed_runs]
    reached = sorted(t for t in to_target if t is not None)
    median = statistics.median(reached + [math.inf] * (len(to_target) - len(reached)))
    verdicts = [r.doctor for r in seed_runs]
    errors = [r.error for r in seed_runs if r.error]
    return PairResult(
        **base, learning_rate=grid[chosen],
        lr_at_grid_edge=len(grid) > 1 and chosen in (0, len(grid) - 1),
        seeds=[r.seed for r in seed_runs], test_metric_per_seed=test,
        test_metric_mean=mean, test_metric_std=std,
        test_loss_mean=_mean_std([r.test_loss for r in seed_runs])[0],
        epochs_to_target=None if math.isinf(median) else float(median),
        epochs_to_target_per_seed=to_target,
        doctor=max(dict.fromkeys(verdicts), key=verdicts.count) if verdicts else "n/a",
        error=errors[0] if errors else None,
        val_loss_curves=[list(r.history.get("val_loss", [])) for r in seed_runs])


def tiers(results):
    """Sets `tier` on the results of each (task, data set): sorted by test metric
    mean, a tier is a leader and every later result whose mean +- std interval
    overlaps the leader's. Results without a test score get no tier."""
    groups = {}
    for result in results:
        groups.setdefault((result.task, result.dataset), []).append(result)
    for rows in groups.values():
        scored = [r for r in rows if math.isfinite(r.test_metric_mean)]
        sign = -1.0 if higher_is_better(rows[0].task) else 1.0
        scored.sort(key=lambda r: sign * r.test_metric_mean)
        tier, i = 0, 0
        while i < len(scored):
            tier += 1
            leader = scored[i]
            low, high = (leader.test_metric_mean - leader.test_metric_std,
                         leader.test_metric_mean + leader.test_metric_std)
            j = i
            while j < len(scored):
                r = scored[j]
                if r.test_metric_mean - r.test_metric_std > high or (
                        r.test_metric_mean + r.test_metric_std < low):
                    break
                r.tier = tier
                j += 1
            i = j
    return results


def tier_labels(rows):
    """`{id(result): "1=" | "2" | "-"}`: "=" marks a tier shared by several results."""
    counts = {}
    for r in rows:
        counts[r.tier] = counts.get(r.tier, 0) + 1
    return {id(r): "-" if r.tier is None else f"{r.tier}{'=' if counts[r.tier] > 1 else ''}"
            for r in rows}


# --- Why a result stands where it does ------------------------------------------------------


def rectification_factors(steps, beta_2=0.999, sma_threshold=5.0):
    """RAdam's rectification factor `r_t` for t = 1..steps (Liu et al. 2020, eq. 6-7
    and the authors' threshold): None where `rho_t < sma_threshold` (a plain
    momentum step), else the factor that scales Adam's step."""
    rho_inf = 2.0 / (1.0 - beta_2) - 1.0
    factors = []
    for t in range(1, steps + 1):
        rho_t = rho_inf - 2.0 * t * beta_2 ** t / (1.0 - beta_2 ** t)
        factors.append(None if rho_t < sma_threshold else math.sqrt(
            (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)))
    return factors


def rectification(steps, beta_2=0.999, sma_threshold=5.0):
    """`(momentum_steps, mean_r)` over a run of `steps` steps: how many are plain
    momentum steps, and the mean `r_t` of the others (1.0: Adam's full step)."""
    factors = rectification_factors(steps, beta_2, sma_threshold)
    adaptive = [f for f in factors if f is not None]
    return len(factors) - len(adaptive), (sum(adaptive) / len(adaptive) if adaptive else 0.0)


def explain(pair, plan, optimizer_spec):
    """A note for a RAdam result in the last tier of its task (the first thing a
    reader asks): how much of Adam's step its rectification let through in runs
    this short. None otherwise."""
    from keras_lossopt.optimizers import RAdam

    optimizer = optimizer_spec.make()
    if not isinstance(optimizer, RAdam) or pair.learning_rate is None:
        return None
    n = len(plan.dataset.x_train)
    batch = n if optimizer_spec.full_batch else min(plan.batch_size, n)
    steps = plan.epochs * math.ceil(n / batch)
    config = optimizer.get_config()
    plain, mean_r = rectification(steps, config["beta_2"], config["sma_threshold"])
    return (f"in the last tier at its tuned rate {pair.learning_rate:.3g}. RAdam's "
            f"rectification (its built-in warm-up) takes {plain} plain momentum steps, then "
            f"Adam's step times r_t < 1; over this run's {steps} steps r_t averages "
            f"{mean_r:.2f} (beta_2={config['beta_2']:g}): it is still warming up when the "
            "run ends. Longer runs, or a larger --budget, narrow the gap")


# --- Running -------------------------------------------------------------------------------


def default_learning_rate(optimizer_spec):
    """The rate the grid is centred on: the spec's `learning_rate`, else the
    optimizer's own default (a wrapper reports its inner optimizer's)."""
    if "learning_rate" in optimizer_spec.overrides:
        return float(optimizer_spec.overrides["learning_rate"])
    import keras

    optimizer = optimizer_spec.make()
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def run(plans, protocol, *, progress=None, train=None, doctor_factory=None):
    """Runs the protocol on every plan; returns `(pair_results, runs, interrupted)`
    with `runs` every single training (RunResult, with `role` and `seed`)."""
    from keras_lossopt.cli import engine

    doctor_factory = doctor_factory or engine.make_doctor
    pairs, runs, origins = [], [], {}
    progress = progress or engine.Progress(
        sum(p.n_runs for p in plans) * protocol.runs_per_pair, quiet=True)

    progress.per_pair = protocol.runs_per_pair

    def one(plan, loss_spec, optimizer_spec, seed, lr, role):
        result = engine.run_one(plan, loss_spec, optimizer_spec, seed=seed, learning_rate=lr,
                                train=train, doctor_factory=doctor_factory)
        result.role, result.seed = role, seed
        runs.append(result)
        progress.finish_run(result)
        return result

    try:
        for plan in plans:
            progress.begin_task(plan)
            for loss_spec in plan.losses:
                for optimizer_spec in plan.optimizers:
                    try:
                        grid = protocol.grid(default_learning_rate(optimizer_spec))
                    except Exception as error:  # noqa: BLE001 - reported as a failed pair
                        grid = [None] * protocol.lr_trials
                        failed = specs.failed_result(plan, loss_spec, optimizer_spec, error)
                        trials = [failed] * protocol.lr_trials
                        runs.append(failed)
                        pairs.append(aggregate(plan, loss_spec, optimizer_spec, grid,
                                               trials, []))
                        continue
                    trials = [one(plan, loss_spec, optimizer_spec, protocol.seed, lr,
                                  "lr_trial") for lr in grid]
                    chosen = choose(trials)
                    seed_runs = []
                    if chosen is not None:
                        seed_runs = [trials[chosen]] + [
                            one(plan, loss_spec, optimizer_spec, seed, grid[chosen], "seed")
                            for seed in protocol.seed_list[1:]]
                    pairs.append(aggregate(plan, loss_spec, optimizer_spec, grid, trials,
                                           seed_runs))
                    origins[id(pairs[-1])] = (plan, optimizer_spec)
    except KeyboardInterrupt:
        progress.close(interrupted=True)
        return _noted(tiers(pairs), origins), runs, True
    progress.close()
    return _noted(tiers(pairs), origins), runs, False


def _noted(pairs, origins):
    """Sets the notes of the results in the last tier of their task (see `explain`)."""
    last = {}
    for pair in pairs:
        key = (pair.task, pair.dataset)
        if pair.tier is not None:
            last[key] = max(last.get(key, 0), pair.tier)
    for pair in pairs:
        key = (pair.task, pair.dataset)
        if pair.tier is not None and pair.tier == last[key] > 1:
            plan, optimizer_spec = origins[id(pair)]
            try:
                pair.note = explain(pair, plan, optimizer_spec)
            except Exception:  # noqa: BLE001 - a note is never worth a failed command
                pair.note = None
    return pairs
