//! Row 5: size of the stripped library (release profile: opt-level z, fat LTO, one codegen unit,
//! stripped) in both builds: the default one (built-in reqwest/rustls HTTP stack) and the mobile
//! one (`--no-default-features`: the platform's HTTP behind the port), each with the largest
//! crates as `cargo bloat --crates` saw them in an unstripped twin, set against what installing
//! Dynamic's JS SDK puts on disk.

use std::path::Path;

use crate::BoxResult;
use crate::report::Row;
use crate::stats;

/// One build of the library to report.
pub struct Build<'a> {
    /// `default build (built-in reqwest + rustls)`, `mobile build (--no-default-features)`.
    pub name: &'a str,
    pub library: &'a Path,
    pub bloat_crates: Option<&'a Path>,
}

pub fn row(build: &Build<'_>, node_modules: &Path) -> Row {
    let what = format!(
        "5. Size of the stripped library, {} (x86_64 cdylib)",
        build.name
    );
    measure(&what, build.library, build.bloat_crates, node_modules)
        .unwrap_or_else(|e| Row::failed("5", &what, &e.to_string()))
}

fn measure(
    what: &str,
    library: &Path,
    bloat_crates: Option<&Path>,
    node_modules: &Path,
) -> BoxResult<Row> {
    let size = std::fs::metadata(library)
        .map_err(|e| format!("{}: {e}", library.display()))?
        .len() as f64;
    let top = match bloat_crates {
        Some(path) => top_crates(&std::fs::read_to_string(path)?, 5),
        None => "cargo-bloat not run".to_owned(),
    };
    let (alternative, ratio) = match tree_size(node_modules) {
        Ok(js) if js > 0 => (
            format!(
                "{} (`node_modules` of @dynamic-labs-sdk/client 0.26.9, installed)",
                stats::bytes(js as f64)
            ),
            format!("JS ÷ native {}", stats::ratio(js as f64, size)),
        ),
        _ => ("— (benches/js not installed)".to_owned(), "—".to_owned()),
    };
    Ok(Row {
        item: "5",
        what: what.to_owned(),
        native: format!("{} ({} B)", stats::bytes(size), size as u64),
        alternative,
        ratio,
        notes: format!(
            "largest crates in .text (cargo bloat): {top}. The JS figure is what npm installs, not a minified bundle"
        ),
    })
}

/// `std 30.1 %, ring 12.0 %, …` from `cargo bloat --crates` output (columns: File, .text, Size,
/// Crate).
pub fn top_crates(output: &str, count: usize) -> String {
    output
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields.as_slice() {
                [_file, text, size, name] if text.ends_with('%') && !name.starts_with('.') => {
                    Some(format!("{name} {size} ({text} of .text)"))
                }
                _ => None,
            }
        })
        .take(count)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Total size of the regular files under `dir` (symlinks not followed).
fn tree_size(dir: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            total += tree_size(&entry.path())?;
        } else if kind.is_file() {
            total += entry.metadata()?.len();
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    #[test]
    fn top_crates_reads_cargo_bloats_table() {
        let output = "    Analyzing target/bloat/libdynamic_byoa.so\n\n\
             File  .text     Size Crate\n\
             9.1%  31.2% 150.3KiB std\n\
             4.0%  13.6%  65.5KiB ring\n\
             0.5%   1.9%   9.0KiB [Unknown]\n\
            29.1% 100.0% 481.2KiB .text section size, the file size is 1.6MiB\n";
        assert_eq!(
            super::top_crates(output, 2),
            "std 150.3KiB (31.2% of .text), ring 65.5KiB (13.6% of .text)"
        );
    }
}
