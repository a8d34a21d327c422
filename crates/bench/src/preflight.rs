//! Row 1: reads what `cargo bench --bench preflight` (criterion) left in `target/criterion`.

use std::path::Path;

use serde_json::Value;

use crate::BoxResult;
use crate::report::Row;
use crate::stats;

/// The criterion group and functions of `benches/preflight.rs`.
const GROUP: &str = "preflight";
const CASES: [(&str, &str); 2] = [("typical", "typical token"), ("large", "large token")];

pub fn rows(criterion_dir: &Path) -> Vec<Row> {
    CASES
        .iter()
        .map(|(id, label)| {
            let what = format!("1. Preflight per external JWT, {label}");
            row(criterion_dir, id, &what).unwrap_or_else(|e| {
                Row::failed(
                    "1",
                    &what,
                    &format!("{e} (run `cargo bench --bench preflight`)"),
                )
            })
        })
        .collect()
}

fn row(criterion_dir: &Path, id: &str, what: &str) -> BoxResult<Row> {
    let dir = criterion_dir.join(GROUP).join(id);
    let estimates: Value = serde_json::from_slice(&std::fs::read(dir.join("new/estimates.json"))?)?;
    let benchmark: Value = serde_json::from_slice(&std::fs::read(dir.join("new/benchmark.json"))?)?;
    let ns = |path: &str| {
        estimates
            .pointer(path)
            .and_then(Value::as_f64)
            .ok_or_else(|| format!("estimates.json has no {path}"))
    };
    let median = ns("/median/point_estimate")?;
    let low = ns("/median/confidence_interval/lower_bound")?;
    let high = ns("/median/confidence_interval/upper_bound")?;
    let size = benchmark
        .pointer("/throughput/Bytes")
        .or_else(|| benchmark.pointer("/throughput/BytesDecimal"))
        .and_then(Value::as_u64)
        .map(|b| format!(" ({b} B)"))
        .unwrap_or_default();
    Ok(Row {
        item: "1",
        what: format!("{what}{size}"),
        native: format!("{} median", stats::ms(median / 1e6)),
        alternative: "— (the JS SDK checks nothing before sending)".to_owned(),
        ratio: "—".to_owned(),
        notes: format!(
            "criterion, 95 % CI of the median {}–{}; per sign-in, before any I/O",
            stats::ms(low / 1e6),
            stats::ms(high / 1e6)
        ),
    })
}
