"""The batch's progress line: done, failed, in flight, rate, ETA and tokens."""

from __future__ import annotations

from llmcompiler_provider.batch_results import BatchSummary


def progress_line(summary: BatchSummary) -> str:
    """``batch 3f2a: 120/1,000 done (118 ok, 2 failed, 0 skipped), 8 in flight, 14.2 runs/min,
    ETA 1h02m, 123,456 tokens``."""
    done, total = summary.done, summary.total
    parts = [
        f"batch {summary.batch_id[:12]}: {done:,}/{total:,} done ({summary.succeeded:,} ok, "
        f"{summary.failed:,} failed, {summary.skipped:,} skipped"
        + (f", {summary.resumed:,} from an earlier attempt" if summary.resumed else "") + ")",
        f"{summary.in_flight} in flight",
        f"{summary.runs_per_minute:.1f} runs/min",
    ]
    if summary.status == "running":
        parts.append(f"ETA {eta_text(summary)}")
    parts.append(f"{summary.tokens.total:,} tokens" + (f" ({summary.cost:.4g} cost)" if summary.cost else ""))
    if summary.rate_limited:
        parts.append(f"{summary.rate_limited:,} rate-limited requests retried")
    if summary.status != "running":
        parts.append(summary.status)
    return ", ".join(parts)


def eta_text(summary: BatchSummary) -> str:
    """Time left at the rate so far (``?`` before the first run finished)."""
    rate = summary.runs_per_minute
    left = summary.total - summary.done
    if left <= 0:
        return "0s"
    if rate <= 0:
        return "?"
    seconds = round(left / rate * 60)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
