//! The one table `scripts/bench.sh` prints: one [`Row`] per number, in markdown.

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Row {
    /// Issue item number (1-6), shown first.
    pub item: &'static str,
    pub what: String,
    pub native: String,
    pub alternative: String,
    /// How the two compare, with its direction spelled out (e.g. `JS ÷ native ×7.9`).
    pub ratio: String,
    /// Spread and anything needed to read the row honestly.
    pub notes: String,
}

impl Row {
    /// A row that could not be measured in this run, with why.
    pub fn failed(item: &'static str, what: &str, why: &str) -> Self {
        Self {
            item,
            what: what.to_owned(),
            native: "not measured".to_owned(),
            alternative: "—".to_owned(),
            ratio: "—".to_owned(),
            notes: format!("failed: {why}"),
        }
    }
}

pub fn markdown(header: &str, rows: &[Row]) -> String {
    let mut out = String::new();
    out.push_str(header);
    out.push_str(
        "\n\n| # | measurement | native (dynamic-byoa) | alternative | ratio | spread, notes |\n",
    );
    out.push_str("| --- | --- | --- | --- | --- | --- |\n");
    for row in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            row.item,
            cell(&row.what),
            cell(&row.native),
            cell(&row.alternative),
            cell(&row.ratio),
            cell(&row.notes)
        ));
    }
    out
}

/// Keeps a cell on one line and its pipes literal.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_stay_on_one_line() {
        let row = Row {
            item: "1",
            what: "a|b".into(),
            native: "x\ny".into(),
            alternative: "—".into(),
            ratio: "—".into(),
            notes: String::new(),
        };
        let table = markdown("head", &[row]);
        assert!(table.contains("| 1 | a\\|b | x y | — | — |  |"), "{table}");
    }
}
