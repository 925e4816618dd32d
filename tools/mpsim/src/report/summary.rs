//! The report as text: one run's summary, and several runs side by side.

use super::Report;
use std::fmt::Write as _;

fn opt_ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.3}"))
}

/// One run: totals, per path, failovers.
pub fn summary(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} — policy {}, seed {}, {} ms ({} build)",
        r.scenario, r.policy, r.seed, r.duration_ms, r.build
    );
    let _ = writeln!(
        out,
        "  goodput {:.0} Mbit/s of {:.0} capacity ({:.1} %), fairness {:.3}, p99 completion {:.1} us",
        r.goodput_mbps,
        r.capacity_mbps,
        r.efficiency * 100.0,
        r.flow_fairness,
        r.p99_completion_us
    );
    let _ = writeln!(
        out,
        "  NBLs: sent {}, completed {} ({} failed), lost {}, delivered {}, undelivered {}, duplicated {}, reordered {:.3} %",
        r.nbls_sent,
        r.nbls_completed,
        r.nbls_failed,
        r.nbls_lost,
        r.delivered,
        r.undelivered,
        r.nbls_duplicated,
        r.reordered_pct
    );
    let _ = writeln!(
        out,
        "  {:<12} {:>14} {:>7}  {:<11} transitions",
        "path", "bytes", "share", "final"
    );
    for p in &r.paths {
        let t: Vec<String> = p
            .transitions
            .iter()
            .map(|t| format!("{:.1} ms {}→{} ({})", t.at_ms, t.from, t.to, t.reason))
            .collect();
        let _ = writeln!(
            out,
            "  {:<12} {:>14} {:>6.1}%  {:<11} {}",
            p.name,
            p.bytes,
            p.share * 100.0,
            p.final_state,
            if t.is_empty() {
                "-".into()
            } else {
                t.join(", ")
            }
        );
    }
    if !r.failovers.is_empty() {
        let _ = writeln!(
            out,
            "  failovers (ms): {:<12} {:<18} {:>10} {:>10} {:>13}",
            "path", "fault", "injected", "detected", "first reroute"
        );
        for f in &r.failovers {
            let _ = writeln!(
                out,
                "                  {:<12} {:<18} {:>10.3} {:>10} {:>13}",
                f.path,
                f.kind,
                f.injected_ms,
                opt_ms(f.detected_ms),
                opt_ms(f.first_reroute_ms)
            );
        }
    }
    let rules: Vec<String> = r
        .rule_violations
        .iter()
        .chain(&r.leaks)
        .map(|v| format!("{} ×{}", v.rule, v.count))
        .collect();
    let _ = writeln!(
        out,
        "  rule violations and leaks: {}",
        if rules.is_empty() {
            "none".into()
        } else {
            rules.join(", ")
        }
    );
    out
}

/// Several runs of one scenario, one row per policy.
pub fn compare_table(reports: &[Report]) -> String {
    let mut out = String::new();
    let names: Vec<&str> = reports
        .first()
        .map(|r| r.paths.iter().map(|p| p.name.as_str()).collect())
        .unwrap_or_default();
    let _ = write!(
        out,
        "{:<13} {:>9} {:>6} {:>8} {:>9} {:>8} {:>5} {:>5} {:>6}",
        "policy", "goodput", "eff%", "fairness", "p99 us", "reord%", "lost", "dup", "rules"
    );
    for n in &names {
        let _ = write!(out, " {:>8}", format!("{n}%"));
    }
    out.push('\n');
    for r in reports {
        let rules: u64 = r
            .rule_violations
            .iter()
            .chain(&r.leaks)
            .map(|v| v.count)
            .sum();
        let _ = write!(
            out,
            "{:<13} {:>9.0} {:>6.1} {:>8.3} {:>9.1} {:>8.3} {:>5} {:>5} {:>6}",
            r.policy,
            r.goodput_mbps,
            r.efficiency * 100.0,
            r.flow_fairness,
            r.p99_completion_us,
            r.reordered_pct,
            r.nbls_lost,
            r.nbls_duplicated,
            rules
        );
        for p in &r.paths {
            let _ = write!(out, " {:>8.1}", p.share * 100.0);
        }
        out.push('\n');
    }
    out
}
