"""What the chapter "What forward-only learning costs" reads from the stored cost measurements.

One step of a rule on L hidden layers of width d and batch B does a few matrix products of
2 B d_l d_{l-1} FLOPs each; the tables here put the stored counts, working memory, state and
time side by side by rule and depth, and state what they say: PEPITA against BP in FLOPs,
the working memory each extra layer adds, whether any forward-only rule holds less than BP,
the achieved FLOP rate, the library against a plain loop, and seeds stacked as one batch.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..cost import COST_RULES, cost_path, cost_report
from ..store import write_json_atomic

LABEL = {
    "bp": "BP",
    "pepita": "PEPITA",
    "pepita_hebbian": "PEPITA-Hebbian",
    "pepita_tl": "PEPITA-TL",
    "afa": "AFA",
    "ff": "FF",
}
MIB = 2**20
SPEEDUP_TARGET, PEAK_TARGET = 1.3, 0.75  # the benchmark's targets on the CIFAR-10 shape

# What each rule's equations force it to keep alive during a step (derived, not measured).
STORAGE_NEED = pd.DataFrame(
    [
        ("BP", "h_0 … h_{L-1} and σ'(a_1) … σ'(a_{L-1}) until the backward pass", "L layers"),
        ("PEPITA", "clean h_1 … h_{L-1} until the modulated pass reaches each layer", "L layers"),
        ("PEPITA-Hebbian", "clean h_0 … h_{L-1} (both Hebbian terms use them)", "L layers"),
        ("PEPITA-TL", "only e between the passes; within a pass one layer at a time", "1 layer"),
        ("AFA", "as BP: h_{l-1} and σ'(a_l) of every layer", "L layers"),
        ("FF", "one layer's positive and negative activities at a time", "1 layer"),
    ],
    columns=["Rule", "activity the equations keep alive", "grows with depth as"],
)


def depths_and_rules(profile: str) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """The depths and rules measured: all of them on the paper profile, a few on smoke."""
    if profile == "paper":
        return (1, 2, 3, 4, 5), COST_RULES
    return (1, 2), ("bp", "pepita", "ff")


def load_measurements(
    results_dir: str | Path, device: str, profile: str, run_missing: bool
) -> tuple[dict | None, dict | None, str, Path]:
    """(cost report, benchmark, a Markdown line on where they come from, benchmark path);
    with ``run_missing`` an absent cost report is measured and stored first."""
    path = cost_path(results_dir, device)
    bench_path = Path(results_dir) / "cost" / f"bench-{device}.json"
    if not path.is_file() and run_missing:
        depths, rules = depths_and_rules(profile)
        write_json_atomic(path, cost_report(device, depths=depths, rules=rules, progress=False))
    report = json.loads(path.read_text()) if path.is_file() else None
    bench = json.loads(bench_path.read_text()) if bench_path.is_file() else None
    if report is None:
        line = (
            f"Not run yet: no cost measurements for `{device}` in `{path}`. Make them with "
            f"`pepita cost --device {device} --store` (about a minute on a CPU)."
        )
    else:
        prov = report["provenance"]
        line = (
            f"Measured on **{report['device']}** ({prov['threads']} threads), torch "
            f"{prov.get('torch_version', 'n/a')}, commit `{str(prov.get('git_commit'))[:10]}`, "
            f"{prov['finished'][:10]}."
        )
    return report, bench, line, bench_path


def cost_rows(report: dict) -> pd.DataFrame:
    """The stored rows with the rule's label, MFLOP per step and memory in MiB."""
    rows = pd.DataFrame(report["rows"])
    return rows.assign(
        Rule=rows["rule"].map(LABEL),
        **{
            "MFLOP / step": rows["flops_per_step"] / 1e6,
            "working memory (MiB)": rows["step_peak_bytes"] / MIB,
            "state (MiB)": rows["state_bytes"] / MIB,
        },
    )


def by_depth(rows: pd.DataFrame, col: str, digits: int) -> pd.DataFrame:
    """``col`` by rule (rows, in COST_RULES order) and depth (columns "k hidden")."""
    order = [LABEL[r] for r in COST_RULES if LABEL[r] in set(rows["Rule"])]
    tab = rows.pivot_table(index="Rule", columns="depth", values=col).reindex(order)
    tab.columns = [f"{c} hidden" for c in tab.columns]
    return tab.apply(lambda v: v.map(f"{{:.{digits}f}}".format)).reset_index()


def flop_ratio(rows: pd.DataFrame) -> pd.Series:
    """PEPITA's counted FLOPs per step over BP's, by depth."""
    flop = rows.pivot_table(index="depth", columns="rule", values="flops_per_step")
    return flop["pepita"] / flop["bp"]


def flop_section(rows: pd.DataFrame) -> list:
    """The FLOP table and PEPITA against BP."""
    ratio = flop_ratio(rows)
    return [
        (
            by_depth(rows, "MFLOP / step", 1),
            "Counted FLOPs per training step (MFLOP), MNIST input, 1024 units per hidden layer",
        ),
        (
            f"PEPITA over BP: {ratio.min():.3f} to {ratio.max():.3f} times the FLOPs across "
            f"depths {', '.join(str(d) for d in ratio.index)}: the same arithmetic, as derived "
            "above.",
            "",
        ),
    ]


def memory_per_layer(rows: pd.DataFrame) -> pd.Series:
    """Working memory (MiB) each extra hidden layer adds, mean over depths, by rule label."""
    wm = rows.pivot_table(index="depth", columns="rule", values="step_peak_bytes")
    return (wm.diff().mean() / MIB).rename(LABEL)


def deepest_memory(rows: pd.DataFrame) -> tuple[int, pd.Series]:
    """The deepest measured depth and each rule's working memory (MiB) there."""
    depth = int(rows["depth"].max())
    return depth, rows[rows["depth"] == depth].set_index("rule")["step_peak_bytes"] / MIB


def memory_section(rows: pd.DataFrame, batch: int = 64, width: int = 1024) -> list:
    """Working memory and state by depth, what a layer adds, and whether any forward-only rule
    holds less than BP at the deepest depth."""
    per_layer = memory_per_layer(rows)
    act = batch * width * 4 / MIB
    depth, deep = deepest_memory(rows)
    lower = [LABEL[r] for r in deep.index if r != "bp" and deep[r] < deep["bp"]]
    nan = float("nan")
    verdict = (
        f"less than that: {', '.join(lower)}."
        if lower
        else "no forward-only rule in this library holds less: PEPITA holds "
        f"{deep.get('pepita', nan):.2f} MiB (its clean and modulated activities), "
        f"PEPITA-TL {deep.get('pepita_tl', nan):.2f} MiB, FF "
        f"{deep.get('ff', nan):.2f} MiB (a batch of 100 positive and 100 negative "
        "samples, and autograd's graph of each layer-local loss). The storage advantage "
        "of TL and FF is a property of their equations, which the table below states; a "
        "step that streams layer by layer would realise it, ours does not."
    )
    return [
        (
            by_depth(rows, "working memory (MiB)", 2),
            "Peak working memory of one step (MiB, tensors created during the step)",
        ),
        (
            by_depth(rows, "state (MiB)", 2),
            "Persistent state (MiB): weights, momentum buffers, feedback matrices",
        ),
        (
            "Working memory added per extra hidden layer (MiB, mean over depths): "
            + ", ".join(f"{k} {v:.2f}" for k, v in per_layer.items())
            + f". One activity matrix ($B \\times {width}$ floats) is {act:.2f} MiB.",
            "",
        ),
        (f"At depth {depth} BP's step holds {deep['bp']:.2f} MiB; " + verdict, ""),
    ]


def time_section(rows: pd.DataFrame, device_name: str) -> list:
    """Seconds per epoch by depth, and the FLOP rate achieved over all cells."""
    gflops = rows["flops_per_step"] / rows["seconds_per_step"] / 1e9
    return [
        (
            by_depth(rows, "seconds_per_epoch", 2),
            f"Seconds per 60,000-image epoch on {device_name}",
        ),
        (
            f"Achieved rate over all cells: {gflops.min():.0f} to {gflops.max():.0f} GFLOP/s "
            f"(median {gflops.median():.0f}).",
            "",
        ),
    ]


def _met(value: float, target: float) -> str:
    return "met" if value >= target else "not met"


def bench_section(bench: dict | None, bench_path: Path) -> list:
    """The library against a plain loop by input shape, and the CIFAR-10 targets."""
    if bench is None:
        return [(f"Not run yet: `pepita bench --json --out {bench_path}`.", "")]
    tab = pd.DataFrame(
        [
            {
                "shape": name,
                "s / epoch": v["seconds_per_epoch"],
                "plain loop s / epoch": v["plain_loop_seconds_per_epoch"],
                "speedup vs plain": v["speedup_vs_plain"],
                "GFLOP/s": v["gflops"],
                "fraction of matmul peak": v["fraction_of_matmul_peak"],
                "large products only": v.get("large_products_only_fraction", float("nan")),
            }
            for name, v in bench.items()
            if isinstance(v, dict) and "gflops" in v
        ]
    )
    caption = (
        f"PEPITA 1 x 1024 on {bench['device']}, {bench['threads']} threads; matmul peak "
        f"{bench['matmul_peak_gflops']:.0f} GFLOP/s"
    )
    tables = [(tab, caption)]
    c = bench.get("cifar10", {})
    if c:
        speed, peak = c["speedup_vs_plain"], c["fraction_of_matmul_peak"]
        tables.append(
            (
                f"On the CIFAR-10 shape the speedup target ({SPEEDUP_TARGET}) is "
                f"{_met(speed, SPEEDUP_TARGET)} ({speed:.2f}) and the peak-fraction target "
                f"({PEAK_TARGET}) is {_met(peak, PEAK_TARGET)} ({peak:.2f}).",
                "",
            )
        )
    if "large_products_only_fraction" in c:
        tables.append(
            (
                "The ceiling: the first layer's two large products and its weight update alone, "
                f"back to back with nothing else, reach {c['large_products_only_fraction']:.2f} "
                "of peak on the CIFAR-10 shape.",
                "",
            )
        )
    return tables


def seed_batch_table(seed_rows: list[dict]) -> pd.DataFrame:
    """Time per step and per seed with S seeds stacked, and the speedup per seed over S = 1."""
    sb = pd.DataFrame(seed_rows)
    base = sb.loc[sb["seeds"] == 1, "per_seed"].iloc[0]
    return pd.DataFrame(
        {
            "dataset": sb["dataset"],
            "seeds": sb["seeds"],
            "ms / step": 1e3 * sb["seconds_per_step"],
            "ms / step / seed": 1e3 * sb["per_seed"],
            "speedup per seed vs S = 1": base / sb["per_seed"],
        }
    )


def seed_batch_section(report: dict | None, device: str) -> list:
    """Seeds stacked as one batch, and what `pepita run` does by default on this device."""
    if report is None or not report.get("seed_batch"):
        return []
    caption = f"PEPITA 1 x 1024, S seeds stacked, on {report['device']}"
    tables = [(seed_batch_table(report["seed_batch"]), caption)]
    if device == "cpu":
        tables.append(
            (
                "So `pepita run` stacks seeds by default only on a GPU (10 per batch); on a CPU "
                "it trains one seed per process (`--jobs N` runs N at once), and "
                "`--seed-batch S` overrides either default.",
                "",
            )
        )
    return tables


def answer_facts(report: dict | None, bench: dict | None) -> dict[str, str]:
    """Glue texts of the chapter's answer box, from the stored measurements."""
    facts = dict.fromkeys(
        ("cost_flops", "cost_memory", "cost_memory_verdict", "cost_bench", "cost_seeds"), "n/a"
    )
    if report is not None:
        rows = cost_rows(report)
        ratio = flop_ratio(rows)
        facts["cost_flops"] = f"{ratio.min():.3f} to {ratio.max():.3f}"
        depth, deep = deepest_memory(rows)
        facts["cost_memory"] = f"{depth} hidden layers: " + ", ".join(
            f"{LABEL[r]} {deep[r]:.2f} MiB" for r in COST_RULES if r in deep.index
        )
        lower = [LABEL[r] for r in deep.index if r != "bp" and deep[r] < deep["bp"]]
        facts["cost_memory_verdict"] = (
            f"less than BP: {', '.join(lower)}"
            if lower
            else "none of our forward-only steps holds less than BP, although PEPITA-TL's and "
            "FF's equations would allow it"
        )
        if report.get("seed_batch"):
            sb = seed_batch_table(report["seed_batch"])
            top = sb.loc[sb["seeds"].idxmax()]
            facts["cost_seeds"] = (
                f"{top['speedup per seed vs S = 1']:.2f} times the speed per seed with "
                f"{int(top['seeds'])} seeds stacked ({report['device']})"
            )
    c = (bench or {}).get("cifar10", {})
    if c:
        facts["cost_bench"] = (
            f"{c['speedup_vs_plain']:.2f} times faster than a plain loop, at "
            f"{c['fraction_of_matmul_peak']:.2f} of the matmul peak ({bench['device']})"
        )
    return facts
