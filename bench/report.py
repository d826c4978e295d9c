"""The results table, the scale and memory summaries, and the verdict against the targets."""

from __future__ import annotations

from dataclasses import dataclass, field

BARE = "bare ceiling"
GROWTH_SCENARIOS = ("list window", "get event", "update (allow)")
# (scenario, minimum share of the bare ceiling's throughput)
RATIO_TARGETS = (
    ("list window", 0.25),
    ("get event", 0.50),
    ("list page 20", 0.40),
    ("update (allow)", 0.15),
)
GROWTH_TARGET = 1.5
BATCH_TARGET = 20.0
RSS_TARGET_MB = 300.0


@dataclass(slots=True)
class Row:
    """One measured (or unavailable) scenario at one scale."""

    scenario: str
    scale: str
    rps: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    ratio: float | None = None
    cpu_ms: float | None = None
    cpu_ratio: float | None = None
    note: str = ""


@dataclass(slots=True)
class ScaleStats:
    """Per-scale facts besides the rows."""

    scale: str
    seed_s: float = 0.0
    db_mb: float = 0.0
    rss_mb: float = 0.0
    peak_rss_mb: float = 0.0
    rss_before_login_mb: float = 0.0


@dataclass(slots=True)
class Report:
    """Everything a run measured."""

    header: list[str]
    rows: list[Row] = field(default_factory=list)
    scales: list[ScaleStats] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)

    def find(self, scenario: str, scale: str) -> Row | None:
        """The row of a scenario at a scale, if measured."""
        return next((r for r in self.rows if r.scenario == scenario and r.scale == scale), None)


def _num(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def results_table(report: Report) -> str:
    """The one table: throughput, latency, share of the bare ceiling, server CPU per request."""
    lines = [
        "| scenario | scale | req/s | p50 ms | p99 ms | vs bare | CPU ms/req | vs bare (CPU) "
        "| notes |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in report.rows:
        lines.append(
            f"| {r.scenario} | {r.scale} | {_num(r.rps)} | {_num(r.p50_ms, 2)} | "
            f"{_num(r.p99_ms, 2)} | {_ratio(r.ratio)} | {_num(r.cpu_ms, 2)} | "
            f"{_ratio(r.cpu_ratio)} | {r.note} |"
        )
    return "\n".join(lines) + "\n"


def _growth(report: Report, scenario: str, field: str = "p50_ms") -> float | None:
    """``field`` at the largest scale over the smallest (None with a single scale)."""
    first, last = report.scales[0].scale, report.scales[-1].scale
    a, b = report.find(scenario, first), report.find(scenario, last)
    if first == last or not a or not b:
        return None
    before, after = getattr(a, field), getattr(b, field)
    return after / before if before and after is not None else None


def batch_ratio(report: Report, scale: str) -> float | None:
    """Server CPU time of one 100-event batch over that of one single create."""
    batch, single = report.find("batch 100", scale), report.find("create (reject)", scale)
    if not batch or not single or not batch.cpu_ms or not single.cpu_ms:
        return None
    return batch.cpu_ms / single.cpu_ms


def batch_latency_ratio(report: Report, scale: str) -> float | None:
    """p50 of a 100-event batch over the p50 of one single create (both under load)."""
    batch, single = report.find("batch 100", scale), report.find("create (reject)", scale)
    if not batch or not single or not batch.p50_ms or not single.p50_ms:
        return None
    return batch.p50_ms / single.p50_ms


def summary(report: Report) -> str:
    """Growth with scale, batch cost, memory."""
    first, last = report.scales[0].scale, report.scales[-1].scale
    lines = [f"**p50 growth {first} → {last}** (target ≤ {GROWTH_TARGET}x):", ""]
    if first == last:
        lines.append("- needs two scales (the full run measures 1k, 10k and 100k)")
    for scenario in GROWTH_SCENARIOS if first != last else ():
        growth, cpu = _growth(report, scenario), _growth(report, scenario, "cpu_ms")
        lines.append(f"- {scenario}: {_num(growth, 2)}x (server CPU per request: {_num(cpu, 2)}x)")
    lines += ["", f"**batch of 100 vs single create** (target < {BATCH_TARGET:.0f}x):", ""]
    for stats in report.scales:
        cpu = batch_ratio(report, stats.scale)
        p50 = batch_latency_ratio(report, stats.scale)
        lines.append(
            f"- {stats.scale}: {_num(cpu, 1)}x the server CPU of one create "
            f"(p50 latency: {_num(p50, 1)}x, but batches run on 2 connections, creates on more)"
        )
    lines += ["", "**server memory** (VmRSS after the run / peak VmHWM):", ""]
    for s in report.scales:
        lines.append(
            f"- {s.scale}: {s.rss_mb:.0f} MB / peak {s.peak_rss_mb:.0f} MB "
            f"(before the login scenario: {s.rss_before_login_mb:.0f} MB; "
            f"database {s.db_mb:.0f} MB, seeded in {s.seed_s:.0f} s)"
        )
    return "\n".join(lines) + "\n"


def verdicts(report: Report) -> str:
    """Each target, the figure measured at the largest scale, pass or miss."""
    scale = report.scales[-1].scale
    lines = [
        f"| target (at {scale}) | measured | verdict |",
        "| --- | ---: | --- |",
    ]
    for scenario, minimum in RATIO_TARGETS:
        row = report.find(scenario, scale)
        value = row.ratio if row else None
        shown = f"{_ratio(value)} (CPU: {_ratio(row.cpu_ratio if row else None)})"
        lines.append(_verdict(f"{scenario} ≥ {minimum:.0%} of bare", shown, value, minimum))
    for scenario in GROWTH_SCENARIOS:
        g = _growth(report, scenario)
        label = f"{scenario} p50 growth ≤ {GROWTH_TARGET}x"
        lines.append(_verdict(label, _num(g, 2), g, GROWTH_TARGET, upper=True))
    b = batch_ratio(report, scale)
    label = f"batch 100 < {BATCH_TARGET:.0f}x create (server CPU)"
    lines.append(_verdict(label, _num(b), b, BATCH_TARGET, upper=True))
    rss = report.scales[-1].rss_mb if scale == "100k" else None
    label = f"RSS < {RSS_TARGET_MB:.0f} MB at 100k"
    lines.append(_verdict(label, _num(rss, 0), rss, RSS_TARGET_MB, upper=True))
    return "\n".join(lines) + "\n"


def _verdict(
    label: str, shown: str, value: float | None, bound: float, *, upper: bool = False
) -> str:
    if value is None:
        verdict = "not measured"
    else:
        verdict = "met" if (value <= bound if upper else value >= bound) else "**missed**"
    return f"| {label} | {shown} | {verdict} |"


def to_markdown(report: Report) -> str:
    """The whole report."""
    parts = [
        "# Calendo benchmark results",
        "",
        *report.header,
        "",
        results_table(report),
        summary(report),
        "## Targets",
        "",
        verdicts(report),
    ]
    if report.profiles:
        parts += ["## Profiles", "", *report.profiles]
    return "\n".join(parts)
