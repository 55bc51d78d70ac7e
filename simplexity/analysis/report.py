"""The analysis report's files, and the report summarised for the console.

`analysis.json` (the report of one run: what `simplexity.run_analysis.analyze_run` returns) and the figures go into
the run directory or `output_dir`; a sweep's directory gets `analysis_table.json`, one row per run. The formatting
functions are pure functions of those reports.
"""

from pathlib import Path
from typing import Any

from simplexity.analysis.belief_geometry import CONCATENATED

ANALYSIS_FILE = "analysis.json"
FIGURES = {"belief_geometry": "belief_geometry.png", "position_loss": "position_loss.png"}
TRAINING_CURVE = "training_curve.png"
ANALYSIS_CURVE = "analysis_curve.png"
FACTORS_FIGURE = "factors.png"
INTERVENTIONS_FIGURE = "interventions.png"
# The trained process's machine: its epsilon-machine where finite, else its presentation (docs/machines.md).
MACHINE_FILES = {"dot": "machine.dot", "json": "machine.json", "figure": "machine.png"}
# The machine the model implements (`extraction=true`).
EXTRACTED_FILES = {"dot": "extracted_machine.dot", "json": "extracted_machine.json", "figure": "extracted_machine.png"}
OUTPUT_FILES = (
    ANALYSIS_FILE,
    *FIGURES.values(),
    TRAINING_CURVE,
    ANALYSIS_CURVE,
    FACTORS_FIGURE,
    INTERVENTIONS_FIGURE,
    *MACHINE_FILES.values(),
    *EXTRACTED_FILES.values(),
)
SWEEP_TABLE = "analysis_table.json"


def format_sweep_table(rows: list[dict[str, Any]]) -> str:
    """Returns one line per run: its directory name and the concatenated probe's R^2, RMSE and ratios."""
    lines = ["run  step  model  R^2  RMSE  x untrained  x best Markov (concatenated probe)"]
    for row in rows:
        scores = row["regression"][CONCATENATED]
        lines.append(
            f"{Path(row['run_dir']).name}  {row['step']}  {row['model']}  {_formatted(scores['r2'])}  "
            f"{_formatted(scores['rmse'])}  {_ratio(scores['rmse_over_untrained'])}  "
            f"{_ratio(scores['rmse_over_best_markov'])}"
        )
    return "\n".join(lines)


def _formatted(value: float | None) -> str:
    return "nan" if value is None else f"{value:.4f}"


def _ratio(value: float | None) -> str:
    """An RMSE ratio; None is a ratio to an exact control, which is undefined."""
    return "undefined" if value is None else f"{value:.4f}"


def format_report(report: dict[str, Any]) -> str:
    """Returns a few lines summarising an analysis report for the console."""
    lines = [f"analysed step {report['step']}: {report['num_contexts']} contexts of up to {report['max_context_len']}"]
    covered = report.get("covered_probability")
    if covered is not None and min(covered) < 1.0 - 1e-9:
        lines[0] += (
            f" covering {min(covered):.4f} to {max(covered):.4f} of each length's probability"
            f" ({covered[-1]:.4f} at length {len(covered)})"
        )
    num_train = report["num_probed_contexts"] - report["num_test_contexts"]
    lines.append(
        f"  probes fitted on {num_train} contexts (worth {report['effective_train_contexts']:.0f} equally weighted), "
        f"scored on {report['num_test_contexts']} (worth {report['effective_test_contexts']:.0f})"
    )
    controls = report["controls"]
    for name, scores in report["regression"].items():
        r2 = "nan" if scores["r2"] is None else f"{scores['r2']:.4f}"
        rmse = "nan" if scores["rmse"] is None else f"{scores['rmse']:.4f}"
        untrained_exact = controls["untrained"] is not None and controls["untrained"][name]["exact"]
        ratios = [
            f"{label} {'undefined' if exact else format(scores[key], '.3f')}"
            for key, label, exact in (
                ("rmse_over_untrained", "x untrained", untrained_exact),
                ("rmse_over_best_markov", "x best Markov", controls["best_markov_exact"]),
            )
            if exact or scores.get(key) is not None
        ]
        relative = f" (RMSE {', '.join(ratios)})" if ratios else ""
        lines.append(f"  belief probe from {name}: held-out R^2={r2} RMSE={rmse}{relative}")
    best = controls["markov"][f"order_{controls['best_markov_order']}"]
    exact = ", exact: it predicts every held-out belief, so ratios to it are undefined" if best["exact"] else ""
    lines.append(
        f"  controls: best Markov baseline (order {controls['best_markov_order']}) R^2={_formatted(best['r2'])} "
        f"RMSE={_formatted(best['rmse'])}{exact}; shuffled targets R^2="
        f"{_formatted(controls['shuffled_targets'][CONCATENATED]['r2'])} (concatenated)"
    )
    if exact_untrained := [name for name, scores in (controls["untrained"] or {}).items() if scores["exact"]]:
        lines.append(
            f"  controls: the untrained model's probes of {', '.join(exact_untrained)} are exact: ratios to them "
            "are undefined"
        )
    gap = report["position_loss"]["max_abs_difference"]
    captured = report["position_loss"].get("predictable_information_captured")
    bound = report["position_loss"].get("predictable_information_error_bound")
    share = "" if captured is None else f"; predictable information captured {captured:.4f}"
    if captured is not None and bound is None:
        share += " (unbounded: not every context was analysed)"
    lines.append(f"  max |loss - myopic entropy| over positions: {gap:.4f} nats{share}")
    if report["entropy_rate"] is not None:
        lines.append(f"  entropy rate: {report['entropy_rate']:.4f} nats")
    if "factors" in report:
        lines.extend(_factor_lines(report["factors"]))
    if "interventions" in report:
        lines.extend(_intervention_lines(report["interventions"]))
    if "targets" in report:
        targets = report["targets"]
        information = targets["process"]
        order = information["cryptic_order"]
        lines.append(
            f"  stored information: C_mu {information['statistical_complexity']:.4f}, E "
            f"{information['excess_entropy']:.4f}, crypticity {information['crypticity']:.4f} nats, cryptic order "
            f"{'infinite' if order is None else order}"
        )
        for target, by_name in targets["probes"].items():
            scores = by_name[CONCATENATED]
            lines.append(
                f"  {target} probe from concatenated: held-out R^2={_formatted(scores['r2'])} "
                f"RMSE={_formatted(scores['rmse'])}"
            )
    if "extraction" in report:
        extraction = report["extraction"]
        lines.append(
            f"  extracted machine: {extraction['states_found']} states (true {extraction['true_states']}), "
            f"transition agreement {_formatted(extraction['transition_agreement'])}, C_mu "
            f"{extraction['statistical_complexity']:.4f} nats (true {extraction['true_statistical_complexity']:.4f})"
        )
    for point in report.get("curve", []):
        scores = point["regression"][CONCATENATED]
        dims = ""
        if "factors" in point:
            last = list(point["factors"]["dimensions"])[-1]
            dims = f", dims@95 of {last} {point['factors']['dimensions'][last]['0.95']}"
        lines.append(
            f"  step {point['step']} ({point['tokens_seen']} tokens): concatenated R^2={_formatted(scores['r2'])} "
            f"RMSE={_formatted(scores['rmse'])}, excess loss {point['excess_loss']:.5f} nats, predictable information "
            f"captured {_formatted(point.get('predictable_information_captured'))}{dims}"
        )
    return "\n".join(lines)


def _factor_lines(factors: dict[str, Any]) -> list[str]:
    """The factored analysis in a few lines: the factors' probes, the dimensions, the overlaps."""
    reference = factors["reference_dimensions"]
    lines = []
    for target, by_name in factors["probes"].items():
        scores = by_name[CONCATENATED]
        ratio = scores.get("rmse_over_untrained")
        relative = f" (RMSE x untrained {ratio:.3f})" if ratio is not None else ""
        lines.append(
            f"  {target} probe from concatenated: held-out R^2={_formatted(scores['r2'])} "
            f"RMSE={_formatted(scores['rmse'])}{relative}"
        )
    for name, by_share in factors["dimensions"].items():
        counts = ", ".join(f"{float(share):.0%} {count}" for share, count in by_share.items())
        lines.append(
            f"  {name}: principal components holding {counts} (factored line {reference['factored']}, "
            f"joint line {reference['joint']})"
        )
    for name, pairs in factors["vary_one_overlap"].items():
        random = factors["random_overlap"][name]
        first = ", ".join(f"{pair} {curve[0]:.4f}" for pair, curve in pairs.items() if curve)
        lines.append(f"  {name}: vary-one overlap at k=1 {first} (random {random[0]:.4f})")
    return lines


def _share(value: float | None) -> str:
    return "nan" if value is None else f"{value:.1%}"


def _intervention_lines(interventions: dict[str, Any]) -> list[str]:
    """The intervention analyses in one line per site, after the model's own excess loss and the controls."""
    lines = [
        f"  interventions: model excess loss {_formatted(interventions['model_excess_loss'])} nats on the held-out "
        f"contexts; implied by the best Markov baseline (order {interventions['best_markov_order']}) "
        f"{_formatted(interventions['markov_implied_excess_loss'])}; {interventions['num_pairs']} patched pairs of "
        f"{interventions['pair_length']} tokens"
    ]
    for site, scores in interventions["sites"].items():
        patching, ablation = scores["patching"], scores["ablation"]
        best = " (best probe)" if site == interventions["best_site"] else ""
        lines.append(
            f"  {site}{best}: probe-implied excess loss {_formatted(scores['probe_implied_excess_loss'])} "
            f"(untrained {_formatted(scores['untrained_probe_implied_excess_loss'])}); patching removes "
            f"{_share(patching['kl_removed_probe'])} of KL {patching['kl_before']:.4f} (random direction "
            f"{_share(patching['kl_removed_random_direction'])}, Markov target "
            f"{_share(patching['kl_removed_markov_target'])}); ablating the probe's {ablation['rank']} dimensions: "
            f"excess loss {_formatted(ablation['excess_loss_probe_subspace'])} "
            f"(random subspace {_formatted(ablation['excess_loss_random_subspace'])})"
        )
    return lines
