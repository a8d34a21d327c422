//! Order statistics of a sample, and how the table prints them.

use std::time::Duration;

/// Summary of one sample (values in whatever unit the caller measured).
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub n: usize,
    pub min: f64,
    pub p10: f64,
    pub median: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Summary {
    /// # Panics
    /// On an empty sample.
    pub fn of(values: &[f64]) -> Self {
        assert!(!values.is_empty(), "summary of an empty sample");
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        Self {
            n: sorted.len(),
            min: sorted[0],
            p10: quantile(&sorted, 0.10),
            median: quantile(&sorted, 0.50),
            p90: quantile(&sorted, 0.90),
            p99: quantile(&sorted, 0.99),
            max: sorted[sorted.len() - 1],
        }
    }

    pub fn of_durations_ms(values: &[Duration]) -> Self {
        Self::of(
            &values
                .iter()
                .map(|d| d.as_secs_f64() * 1e3)
                .collect::<Vec<_>>(),
        )
    }
}

/// Linear interpolation between closest ranks.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let rank = q * (sorted.len() - 1) as f64;
    let (low, high) = (rank.floor() as usize, rank.ceil() as usize);
    sorted[low] + (sorted[high] - sorted[low]) * (rank - low as f64)
}

/// `1.234 ms`, `56.7 µs`, `890 ns` from milliseconds.
pub fn ms(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0} ms")
    } else if value >= 1.0 {
        format!("{value:.2} ms")
    } else if value >= 0.001 {
        format!("{:.1} µs", value * 1e3)
    } else {
        format!("{:.0} ns", value * 1e6)
    }
}

/// `×1.23`.
pub fn ratio(numerator: f64, denominator: f64) -> String {
    format!("×{:.2}", numerator / denominator)
}

/// `12.3 MiB` / `456 KiB` from bytes.
pub fn bytes(value: f64) -> String {
    const KIB: f64 = 1024.0;
    if value >= KIB * KIB {
        format!("{:.1} MiB", value / KIB / KIB)
    } else {
        format!("{:.0} KiB", value / KIB)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_between_ranks() {
        let s = Summary::of(&[4.0, 1.0, 3.0, 2.0, 5.0]);
        assert_eq!((s.min, s.median, s.max), (1.0, 3.0, 5.0));
        assert!((s.p10 - 1.4).abs() < 1e-9);
        assert!((s.p99 - 4.96).abs() < 1e-9);
        assert_eq!(Summary::of(&[7.0]).p99, 7.0);
    }

    #[test]
    fn units_are_chosen_by_magnitude() {
        assert_eq!(ms(250.0), "250 ms");
        assert_eq!(ms(1.5), "1.50 ms");
        assert_eq!(ms(0.0123), "12.3 µs");
        assert_eq!(ms(0.0000004), "0 ns");
        assert_eq!(bytes(2048.0), "2 KiB");
        assert_eq!(bytes(3.0 * 1024.0 * 1024.0), "3.0 MiB");
        assert_eq!(ratio(3.0, 2.0), "×1.50");
    }
}
