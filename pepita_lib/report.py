"""What chapters use: load an experiment's runs as tidy frames (training only what is
missing when asked), say what is missing and how to run it, summarise over seeds, and
draw figures in one consistent style."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .config import TrainConfig, run_id
from .experiments import filter_configs, get_experiment
from .store import find_record, records_to_frames

RULE_LABELS = {
    "bp": "BP",
    "fa": "FA",
    "dfa": "DFA",
    "drtp": "DRTP",
    "pepita": "PEPITA",
    "pepita_hebbian": "PEPITA-Hebbian",
    "pepita_tl": "PEPITA-TL",
    "pepita_wm": "PEPITA-WM",
    "afa": "AFA",
    "ff": "FF",
    "ff_topdown": "FF (top-down negatives)",
}
DATASET_LABELS = {
    "mnist": "MNIST",
    "fashion_mnist": "Fashion-MNIST",
    "cifar10": "CIFAR-10 (JPEG copy)",
    "cifar100": "CIFAR-100",
}


def set_style() -> None:
    """One look for every figure of the book."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 100, "figure.figsize": (7, 4)})


def load_runs(
    experiment: str,
    profile: str,
    results_dir: str | Path,
    filters: dict[str, str | Sequence[str]] | None = None,
    run_missing: bool = False,
    device: str = "auto",
) -> tuple[pd.DataFrame, pd.DataFrame, list]:
    """Runs of ``experiment`` under ``profile`` as (runs, history, missing configs).

    ``filters`` maps a config field to a value or a list of accepted values. With
    ``run_missing`` the missing runs are trained first (and stored); otherwise they are
    returned in ``missing`` so the chapter can say so.
    """
    configs = get_experiment(experiment).configs(profile)
    for key, value in (filters or {}).items():
        values = [value] if isinstance(value, str | int | float) else list(value)
        configs = [c for v in values for c in filter_configs(configs, {key: str(v)})]
    found = load_records(experiment, profile, results_dir, configs, run_missing, device)
    records = [rec for rec in found if rec is not None]
    missing = [cfg for cfg, rec in zip(configs, found) if rec is None]
    runs, hist = records_to_frames(records)
    for frame in (runs, hist):
        if not frame.empty:
            frame["Rule"] = frame["rule"].map(RULE_LABELS).fillna(frame["rule"])
            frame["Dataset"] = frame["dataset"].map(DATASET_LABELS).fillna(frame["dataset"])
    return runs, hist, missing


def load_records(
    experiment: str,
    profile: str,
    results_dir: str | Path,
    configs: list,
    run_missing: bool = False,
    device: str = "auto",
) -> list[dict | None]:
    """The stored record of each of ``configs`` of ``experiment`` (None where missing); with
    ``run_missing`` the missing ones are made (trained or computed) and stored first."""
    if run_missing:
        from .runner import run_experiment  # the trainer loads only when runs are to be made

        wanted = {run_id(c) for c in configs}
        # chapters train only when asked, and may then fetch the data through torchvision
        for _ in run_experiment(
            experiment,
            profile,
            results_dir,
            None,
            device,
            progress=False,
            download=True,
            only=wanted,
        ):
            pass
    return [find_record(results_dir, experiment, cfg) for cfg in configs]


def _runs(n: int) -> str:
    return f"{n} run" if n == 1 else f"{n} runs"


def missing_note(experiment: str, profile: str, missing: list, max_lines: int = 12) -> str:
    """Markdown saying which runs are not stored yet and the command that makes them."""
    if not missing:
        return f"All {experiment} runs this chapter uses under the `{profile}` profile are stored."
    if not isinstance(missing[0], TrainConfig):
        return _missing_note_untrained(experiment, profile, missing, max_lines)
    # settings (besides seed, rule, dataset, depth) that tell the missing runs apart
    dicts = [c.to_dict() for c in missing]
    fixed = {"seed", "rule", "dataset", "hidden"}
    varying = [k for k in dicts[0] if k not in fixed and len({str(d[k]) for d in dicts}) > 1]
    groups: dict[tuple, list[int]] = {}

    def show(v: object) -> str:
        return ",".join(str(x) for x in v) if isinstance(v, list | tuple) else str(v)

    for c, d in zip(missing, dicts):
        extra = " ".join(f"{k}={show(d[k])}" for k in varying if show(d[k]))
        key = (c.rule, c.dataset, "x".join(map(str, c.hidden)), extra)
        groups.setdefault(key, []).append(c.seed)

    lines = [f"**Not run yet** ({_runs(len(missing))} of `{experiment}`, profile `{profile}`):", ""]
    for (rule, ds, hidden, extra), seeds in sorted(groups.items())[:max_lines]:
        ids = ", ".join(map(str, sorted(set(seeds))))
        lines.append(
            f"- {RULE_LABELS.get(rule, rule)} on {DATASET_LABELS.get(ds, ds)}, hidden {hidden}"
            + (f" ({extra})" if extra else "")
            + f", {_runs(len(seeds))} (seed{'s' if ',' in ids else ''} {ids}): "
            f"`pepita run {experiment} --profile {profile} --filter rule={rule} "
            f"--filter dataset={ds}"
            + (f" --filter hidden={hidden.replace('x', ',')}" if "x" in hidden else "")
            + "".join(f" --filter {kv}" for kv in extra.split())
            + "`"
        )
    if len(groups) > max_lines:
        lines.append(
            f"- and {len(groups) - max_lines} more groups: `pepita status {experiment}` lists "
            f"them, `pepita run {experiment} --profile {profile}` runs them all"
        )
    return "\n".join(lines)


def _missing_note_untrained(experiment: str, profile: str, missing: list, max_lines: int) -> str:
    """:func:`missing_note` for runs that are not training runs (the teacher-student theory's):
    one line per setting that tells them apart, with the filters that select it."""
    dicts = [c.to_dict() for c in missing]
    varying = [k for k in dicts[0] if k != "seed" and len({str(d[k]) for d in dicts}) > 1]
    groups: dict[str, list[int]] = {}
    for d in dicts:
        groups.setdefault(" ".join(f"--filter {k}={d[k]}" for k in varying), []).append(d["seed"])
    n = len(missing)
    lines = [f"**Not run yet** ({_runs(n)} of `{experiment}`, profile `{profile}`):", ""]
    for filters, seeds in sorted(groups.items())[:max_lines]:
        ids = ", ".join(map(str, sorted(set(seeds))))
        lines.append(
            f"- {filters.replace('--filter ', '') or 'all'}, {_runs(len(seeds))} "
            f"(seed{'s' if ',' in ids else ''} {ids}): "
            f"`pepita run {experiment} --profile {profile}{' ' if filters else ''}{filters}`"
        )
    if len(groups) > max_lines:
        lines.append(f"- and {len(groups) - max_lines} more: `pepita run {experiment} "
                     f"--profile {profile}` runs them all")  # fmt: skip
    return "\n".join(lines)


def mean_std(values: pd.Series, scale: float = 100.0, digits: int = 2) -> str:
    v = values.dropna().to_numpy() * scale
    if v.size == 0:
        return "n/a"
    if v.size == 1:
        return f"{v[0]:.{digits}f}"
    return f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f}"


def summary(runs: pd.DataFrame, by: list[str], metric: str = "final_test_accuracy") -> pd.DataFrame:
    """Mean ± std (in %) and the number of seeds of ``metric`` for each group of ``by``."""
    rows = []
    for key, grp in runs.groupby(by, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        fin = grp[grp["status"] == "finished"]
        rows.append(
            {
                **dict(zip(by, key)),
                "ours (%)": mean_std(fin[metric]),
                "mean": float(fin[metric].mean() * 100) if len(fin) else np.nan,
                "seeds": len(fin),
                "diverged": int((grp["status"] == "diverged").sum()),
            }
        )
    return pd.DataFrame(rows)


def styled(df: pd.DataFrame, caption: str | None = None):
    """A pandas Styler with a fixed id, so re-executed chapters produce identical HTML."""
    sty = df.style.hide(axis="index").set_uuid("pepita")
    if caption:
        sty = sty.set_caption(caption)
    return sty.format(precision=2)


class Shown(str):
    """A string whose repr is itself, so ``{glue:text}`` prints it without quotes."""

    def __repr__(self) -> str:
        return str(self)


def glue_text(name: str, text: str) -> None:
    from myst_nb import glue

    glue(name, Shown(text), display=False)


def glue_all(facts: dict[str, str], prefix: str = "") -> None:
    """Glue every text of ``facts`` under ``prefix`` + its key."""
    for key, text in facts.items():
        glue_text(prefix + key, text)


def show(tables: list[tuple[pd.DataFrame | str, str]], facts: dict[str, str] | None = None) -> None:
    """Display each (table, caption) as a styled table, or a Markdown line where the table is a
    string or empty ("caption: none."), then glue ``facts``."""
    from IPython.display import Markdown, display

    for tab, caption in tables:
        if isinstance(tab, str):
            display(Markdown(tab))
        else:
            display(styled(tab, caption) if len(tab) else Markdown(f"{caption}: none."))
    glue_all(facts or {})


def pct(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None or value != value else f"{100 * value:.{digits}f}"


def plot_curves(
    hist: pd.DataFrame,
    y: str = "test_accuracy",
    ylabel: str = "test accuracy (%)",
    hue: str = "Rule",
    col: str = "Dataset",
    style: str | None = None,
    scale: float = 100.0,
    ylim: tuple[float, float] | None = None,
):
    """Mean curve over seeds (band: ±1 std) of ``y`` against epoch, one panel per ``col``."""
    import seaborn as sns

    data = hist.dropna(subset=[y]).copy()
    data[y] = data[y] * scale
    g = sns.relplot(
        data=data,
        x="epoch",
        y=y,
        hue=hue,
        col=col,
        style=style,
        kind="line",
        errorbar="sd",
        height=3.6,
        aspect=1.15,
        facet_kws={"sharey": False},
    )
    g.set_axis_labels("epoch", ylabel)
    g.set_titles("{col_name}")
    if ylim is not None:
        g.set(ylim=ylim)
    return g


def label_variants(frame: pd.DataFrame, variants: dict[str, dict], column: str = "Variant") -> None:
    """Name each row by the variant (a dict of config settings) it was run with, in place.

    A variant matches when every setting any variant changes has the variant's value
    (the config default where the variant leaves it alone); unmatched rows get None.
    """
    from .config import TrainConfig

    default = TrainConfig().to_dict()
    keys = sorted({k for knobs in variants.values() for k in knobs})

    def show(v: object) -> str:
        return ",".join(str(float(x)) for x in v) if isinstance(v, list | tuple) else str(v)

    lookup = {
        tuple(show(knobs.get(k, default[k])) for k in keys): name
        for name, knobs in variants.items()
    }
    if frame.empty:
        frame[column] = []
        return
    columns = [frame[k].map(show) if k in frame else [show(default[k])] * len(frame) for k in keys]
    sigs = zip(*columns)
    frame[column] = [lookup.get(tuple(sig)) for sig in sigs]


CHANCE = {"mnist": 0.1, "fashion_mnist": 0.1, "cifar10": 0.1, "cifar100": 0.01}


def add_slowness(runs: pd.DataFrame, hist: pd.DataFrame) -> pd.DataFrame:
    """Add ``slowness`` and ``acc_max`` (the fit of
    :func:`pepita_lib.metrics.slowness` before the first decay) to ``runs``."""
    from .metrics import slowness

    out = runs.copy()
    s_col, a_col = [], []
    for rid, decay, ds in zip(out["run_id"], out["decay_epochs"], out["dataset"]):
        curve = hist[hist["run_id"] == rid].sort_values("epoch")["test_accuracy"].to_numpy()
        first = int(str(decay).split(",")[0]) if str(decay) else None
        fit = slowness(curve, CHANCE.get(ds, 0.1), first)
        s_col.append(fit["slowness"])
        a_col.append(fit["acc_max"])
    out["slowness"], out["acc_max"] = s_col, a_col
    return out


MAIN_DATASETS = ["mnist", "fashion_mnist"]
PEPITA_FAMILY = ["pepita", "pepita_hebbian", "pepita_tl"]

# What each chapter reads: chapter -> need -> (experiment, filters). Tests check that each
# need is either stored under the `paper` profile or reported missing in the chapter.
CHAPTER_NEEDS: dict[str, dict[str, tuple[str, dict]]] = {
    "credit_assignment": {
        "lr": ("lr_search", {}),
        "main": ("baselines", {"dataset": MAIN_DATASETS, "rule": ["bp", "fa", "drtp"]}),
    },
    "pepita": {
        "main": ("baselines", {"dataset": MAIN_DATASETS, "rule": ["bp", "pepita"]}),
    },
    "results": {
        "main": ("baselines", {}),
        "deeper": ("hebbian_depth", {"dataset": MAIN_DATASETS, "rule": PEPITA_FAMILY}),
        "wm": ("weight_mirroring", {}),
        "afa": ("afa_vs_pepita", {}),
        # the scorecard's cells outside the needs above (pepita_lib.scorecard.OURS)
        # (CIFAR-100 rows are not comparable: no copy of the data here)
        "scorecard_gd": ("going_deeper", {"hidden": "1024", "dataset": ["mnist", "cifar10"]}),
        "scorecard_gd3": (
            "going_deeper",
            {
                "dataset": "mnist",
                "hidden": "1024,1024,1024",
                "rule": "pepita",
                "act_norm": "none",
                "weight_decay": "0.0",
            },
        ),
        "scorecard_ff": ("forward_forward", {"rule": "ff", "dataset": "mnist"}),
    },
    "afa": {
        "main": ("afa_vs_pepita", {}),
        "fscale_lr": ("fscale_lr_search", {}),
        "fscale": ("afa_fscale", {}),
    },
    "weight_mirroring": {
        "main": ("weight_mirroring", {}),
        "gain": ("wm_gain", {}),
        "own_rate": ("baselines", {"rule": "pepita_wm", "dataset": "fashion_mnist"}),
    },
    "going_deeper": {
        "lr": ("deep_lr_search", {}),
        "main": ("going_deeper", {}),
    },
    "oq_f_init": {
        "dist": ("f_init", {}),
        "scale": ("afa_fscale", {"rule": "pepita"}),
    },
    "oq_better_mirroring": {
        "main": ("wm_tuning", {}),
    },
    "check_factorisation": {
        "deep": ("going_deeper", {"rule": "pepita_wm"}),
    },
    "hebbian_tl": {
        "depth_lr": ("depth_lr_search", {}),
        "depth1": ("baselines", {"dataset": MAIN_DATASETS, "rule": PEPITA_FAMILY}),
        "deeper": ("hebbian_depth", {"dataset": MAIN_DATASETS}),
        "tl_lr": ("lr_search", {"rule": "pepita_tl"}),
    },
    "forward_forward": {
        "ff": ("forward_forward", {"rule": "ff"}),
        "topdown": ("forward_forward", {"rule": ["ff_topdown", "pepita", "pepita_hebbian"]}),
    },
    "oq_activations": {
        "lr": ("activations_lr_search", {}),
        "main": ("activations", {}),
    },
}


def load_need(
    chapter: str,
    need: str,
    profile: str,
    results_dir: str | Path,
    run_missing: bool = False,
    device: str = "auto",
) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(runs, history, note) for one of a chapter's needs; the note is Markdown that says
    what is missing and how to run it (or that everything is stored)."""
    experiment, filters = CHAPTER_NEEDS[chapter][need]
    runs, hist, missing = load_runs(experiment, profile, results_dir, filters, run_missing, device)
    return runs, hist, missing_note(experiment, profile, missing)
