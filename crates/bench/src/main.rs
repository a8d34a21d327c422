//! `byoa-bench`: the cross-process benchmarks behind `scripts/bench.sh`.
//!
//! ```text
//! byoa-bench run [options]     measure rows 1-7 and print the markdown table
//! byoa-bench serve FIXTURE     issuer + emulator; write FIXTURE; serve until stdin closes
//! ```
//!
//! Options of `run` (defaults for a run from the repository root after `scripts/bench.sh`
//! built everything):
//!
//! * `--signins N` (1000): timed sign-ins per side for row 2;
//! * `--cold-runs N` (10): timed process starts per subject for rows 3-4;
//! * `--js-dir DIR` (`benches/js`), `--node PATH` (`node`);
//! * `--cold-start PATH` (`byoa-cold-start` beside this executable);
//! * `--criterion-dir DIR` (`target/criterion`);
//! * `--library PATH` (`target/release/libdynamic_byoa.so`), `--bloat-crates FILE`;
//! * `--mobile-library PATH`, `--mobile-bloat-crates FILE`: the `--no-default-features` build;
//! * `--header TEXT`: the line above the table (date and machine);
//! * `--only ITEMS` (all): a comma-separated subset of the items, e.g. `2,5`.
//!
//! Each measurement is one entry of [`MEASUREMENTS`]; one that fails becomes a "failed" row
//! instead of stopping the others. A new row is one more function and one more entry.

mod coldstart;
mod fixture;
mod latency;
mod preflight;
mod report;
mod restore;
mod size;
mod stats;
mod step_up;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use coldstart::Subject;
use fixture::Fixture;
use report::Row;
use stats::Summary;

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

/// Everything a measurement may use.
struct Context {
    options: Options,
    fixture: Fixture,
    scratch: PathBuf,
    fixture_file: PathBuf,
}

type Measurement = fn(&Context) -> Vec<Row>;

/// The table, in order.
const MEASUREMENTS: &[(&str, Measurement)] = &[
    ("1", preflight_rows),
    ("2", latency_rows),
    ("3-4", cold_start_rows),
    ("5", size_rows),
    ("6", restore_rows),
    ("7", step_up_rows),
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some("run") => Options::parse(&args[1..]).and_then(run),
        Some("serve") if args.len() == 2 => serve(Path::new(&args[1])),
        _ => Err("usage: byoa-bench run [options] | byoa-bench serve FIXTURE.json".into()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("byoa-bench: {error}");
            ExitCode::FAILURE
        }
    }
}

struct Options {
    signins: usize,
    cold_runs: usize,
    js_dir: PathBuf,
    node: PathBuf,
    cold_start: PathBuf,
    criterion_dir: PathBuf,
    library: PathBuf,
    bloat_crates: Option<PathBuf>,
    mobile_library: Option<PathBuf>,
    mobile_bloat_crates: Option<PathBuf>,
    header: String,
    only: Option<Vec<String>>,
}

impl Options {
    fn parse(args: &[String]) -> BoxResult<Self> {
        let beside_me = std::env::current_exe()?.with_file_name("byoa-cold-start");
        let mut options = Self {
            signins: 1000,
            cold_runs: 10,
            js_dir: "benches/js".into(),
            node: "node".into(),
            cold_start: beside_me,
            criterion_dir: "target/criterion".into(),
            library: "target/release/libdynamic_byoa.so".into(),
            bloat_crates: None,
            mobile_library: None,
            mobile_bloat_crates: None,
            header: "Benchmarks".to_owned(),
            only: None,
        };
        let mut args = args.iter();
        while let Some(flag) = args.next() {
            let value = args
                .next()
                .ok_or_else(|| format!("{flag} needs a value"))?
                .clone();
            match flag.as_str() {
                "--signins" => options.signins = value.parse()?,
                "--cold-runs" => options.cold_runs = value.parse()?,
                "--js-dir" => options.js_dir = value.into(),
                "--node" => options.node = value.into(),
                "--cold-start" => options.cold_start = value.into(),
                "--criterion-dir" => options.criterion_dir = value.into(),
                "--library" => options.library = value.into(),
                "--bloat-crates" => options.bloat_crates = Some(value.into()),
                "--mobile-library" => options.mobile_library = Some(value.into()),
                "--mobile-bloat-crates" => options.mobile_bloat_crates = Some(value.into()),
                "--header" => options.header = value,
                "--only" => options.only = Some(value.split(',').map(str::to_owned).collect()),
                _ => return Err(format!("unknown option {flag}").into()),
            }
        }
        // The subjects run in other working directories: pin relative paths to this one.
        for path in [
            &mut options.cold_start,
            &mut options.js_dir,
            &mut options.node,
        ] {
            if path.components().count() > 1 {
                *path = std::path::absolute(&*path)?;
            }
        }
        if options.signins == 0 || options.cold_runs == 0 {
            return Err("--signins and --cold-runs must be at least 1".into());
        }
        Ok(options)
    }
}

fn run(options: Options) -> BoxResult<()> {
    let scratch = std::env::temp_dir().join(format!("byoa-bench-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    eprintln!("byoa-bench: starting the issuer and the emulator");
    let fixture = Fixture::start()?;
    let fixture_file = scratch.join("fixture.json");
    fixture.write(&fixture_file)?;
    let context = Context {
        options,
        fixture,
        scratch,
        fixture_file,
    };
    let mut rows = Vec::new();
    for (item, measurement) in MEASUREMENTS {
        let wanted = |only: &Vec<String>| only.iter().any(|o| item.split('-').any(|i| i == o));
        if context
            .options
            .only
            .as_ref()
            .is_some_and(|only| !wanted(only))
        {
            continue;
        }
        eprintln!("byoa-bench: measuring item {item}");
        rows.extend(measurement(&context));
    }
    println!("{}", report::markdown(&context.options.header, &rows));
    let Context {
        fixture, scratch, ..
    } = context;
    fixture.shutdown();
    let _ = std::fs::remove_dir_all(scratch);
    Ok(())
}

fn preflight_rows(context: &Context) -> Vec<Row> {
    preflight::rows(&context.options.criterion_dir)
}

fn latency_rows(context: &Context) -> Vec<Row> {
    let what = "2. Steady-state sign-in latency, loopback emulator";
    let latency = match latency::measure(&context.fixture, context.options.signins) {
        Ok(latency) => latency,
        Err(e) => return vec![Row::failed("2", what, &e.to_string())],
    };
    let (client, port, own, raw) = (latency.client, latency.port, latency.port_own, latency.raw);
    let hop = latency.round_trip;
    let spread = |s: &Summary| {
        format!(
            "p10–p90 {}–{}, max {}",
            stats::ms(s.p10),
            stats::ms(s.p90),
            stats::ms(s.max)
        )
    };
    let versus_raw = |side: &Summary| {
        format!(
            "client ÷ raw {} (+{})",
            stats::ratio(side.median, raw.median),
            stats::ms(side.median - raw.median)
        )
    };
    vec![
        Row {
            item: "2",
            what: format!("{what}, median of {} sign-ins each", client.n),
            native: format!("{} (`DynamicClient`, built-in reqwest)", stats::ms(client.median)),
            alternative: format!("{} (raw reqwest POST, same request)", stats::ms(raw.median)),
            ratio: versus_raw(&client),
            notes: format!(
                "client {}; raw {}; three sides interleaved, after 50 warm-ups each",
                spread(&client),
                spread(&raw)
            ),
        },
        Row {
            item: "2",
            what: format!("{what}, through the HttpTransport port, median"),
            native: format!("{} (`DynamicClient`, the bench's own transport)", stats::ms(port.median)),
            alternative: format!("{} (raw reqwest POST)", stats::ms(raw.median)),
            ratio: versus_raw(&port),
            notes: format!(
                "the transport is a reqwest client behind the port, as OkHttp or URLSession are on phones; {}",
                spread(&port)
            ),
        },
        Row {
            item: "2",
            what: "2. The client's own work per sign-in (total minus the transport's send), median".to_owned(),
            native: stats::ms(own.median),
            alternative: "—".to_owned(),
            ratio: format!("{:.0} % of the sign-in", 100.0 * own.median / port.median),
            notes: format!(
                "preflight, request building, the hop onto the library runtime, decoding, the RS256 check of Dynamic's token, the state change and a memory store write; {}",
                spread(&own)
            ),
        },
        Row {
            item: "2",
            what: "2. Of which: the hop onto the library runtime and back (an exported async call with no I/O), median".to_owned(),
            native: stats::ms(hop.median),
            alternative: "—".to_owned(),
            ratio: format!("{:.0} % of the client's own work", 100.0 * hop.median / own.median),
            notes: format!(
                "`auth().restore()` once settled, measured between the sign-ins; a sign-in makes this hop once, and its return wakes the caller's thread; {}",
                spread(&hop)
            ),
        },
        Row {
            item: "2",
            what: format!("{what}, p99"),
            native: stats::ms(client.p99),
            alternative: stats::ms(raw.p99),
            ratio: format!("client ÷ raw {}", stats::ratio(client.p99, raw.p99)),
            notes: "most of either number is the emulator's own work (one ES256 verify, two RS256 signatures per sign-in, built with the same opt-level z profile); the client's cost is the difference".to_owned(),
        },
    ]
}

fn cold_start_rows(context: &Context) -> Vec<Row> {
    let options = &context.options;
    let native = Subject {
        name: "native",
        program: options.cold_start.clone(),
        args: Vec::new(),
        dir: context.scratch.clone(),
    };
    let js = Subject {
        name: "js-sdk",
        program: options.node.clone(),
        args: vec!["cold-start.mjs".into()],
        dir: options.js_dir.clone(),
    };
    let what_time = format!(
        "3. Cold start: process start → signed-in session, median of {} runs",
        options.cold_runs
    );
    let what_rss = "4. Peak RSS of the cold-start process".to_owned();
    let results = match coldstart::measure(
        &[&native, &js],
        &context.fixture_file,
        &context.scratch,
        options.cold_runs,
    ) {
        Ok(results) => results,
        Err(e) => {
            let why = e.to_string();
            return vec![
                Row::failed("3", &what_time, &why),
                Row::failed("4", &what_rss, &why),
            ];
        }
    };
    let wall = |runs: &[coldstart::Run]| {
        Summary::of_durations_ms(&runs.iter().map(|r| r.wall).collect::<Vec<_>>())
    };
    let rss = |runs: &[coldstart::Run]| {
        Summary::of(
            &runs
                .iter()
                .map(|r| r.max_rss_kib as f64 * 1024.0)
                .collect::<Vec<_>>(),
        )
    };
    let (native_time, js_time) = (wall(&results[0]), wall(&results[1]));
    let (native_rss, js_rss) = (rss(&results[0]), rss(&results[1]));
    let js_phases = js_phase_medians(&results[1]);
    vec![
        Row {
            item: "3",
            what: what_time,
            native: format!("{} (`byoa-cold-start`)", stats::ms(native_time.median)),
            alternative: format!(
                "{} (@dynamic-labs-sdk/client 0.26.9 in Node {})",
                stats::ms(js_time.median),
                node_version(&options.node)
            ),
            ratio: format!(
                "JS ÷ native {}",
                stats::ratio(js_time.median, native_time.median)
            ),
            notes: format!(
                "native min–max {}–{}; JS min–max {}–{}; {js_phases}",
                stats::ms(native_time.min),
                stats::ms(native_time.max),
                stats::ms(js_time.min),
                stats::ms(js_time.max)
            ),
        },
        Row {
            item: "4",
            what: what_rss,
            native: stats::bytes(native_rss.median),
            alternative: stats::bytes(js_rss.median),
            ratio: format!(
                "JS ÷ native {}",
                stats::ratio(js_rss.median, native_rss.median)
            ),
            notes: format!(
                "median of the same runs (ru_maxrss); native min–max {}–{}, JS {}–{}",
                stats::bytes(native_rss.min),
                stats::bytes(native_rss.max),
                stats::bytes(js_rss.min),
                stats::bytes(js_rss.max)
            ),
        },
    ]
}

/// Medians of the phases the JS subject times itself (`importMs`, `initMs`, `signInMs`).
fn js_phase_medians(runs: &[coldstart::Run]) -> String {
    let phases = [
        ("importMs", "import"),
        ("initMs", "initializeClient"),
        ("signInMs", "signInWithExternalJwt"),
    ];
    let parts: Vec<String> = phases
        .iter()
        .filter_map(|(key, label)| {
            let values: Vec<f64> = runs.iter().filter_map(|r| r.report[key].as_f64()).collect();
            (!values.is_empty())
                .then(|| format!("{label} {}", stats::ms(Summary::of(&values).median)))
        })
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("JS phases (median, in-process): {}", parts.join(", "))
    }
}

fn node_version(node: &Path) -> String {
    std::process::Command::new(node)
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|v| v.trim().to_owned())
        .unwrap_or_default()
}

fn size_rows(context: &Context) -> Vec<Row> {
    let options = &context.options;
    let node_modules = options.js_dir.join("node_modules");
    let mut builds = vec![size::Build {
        name: "default build (built-in reqwest + rustls)",
        library: &options.library,
        bloat_crates: options.bloat_crates.as_deref(),
    }];
    if let Some(mobile) = &options.mobile_library {
        builds.push(size::Build {
            name: "mobile build (--no-default-features, the platform's HTTP)",
            library: mobile,
            bloat_crates: options.mobile_bloat_crates.as_deref(),
        });
    }
    builds
        .iter()
        .map(|build| size::row(build, &node_modules))
        .collect()
}

/// Restores per storage kind: enough for a stable median, quick next to the other rows.
const RESTORE_RUNS: usize = 200;

fn restore_rows(context: &Context) -> Vec<Row> {
    let what = "6. Restore from storage → signed-in state (no network)";
    let restore = match restore::measure(&context.fixture, &context.scratch, RESTORE_RUNS) {
        Ok(restore) => restore,
        Err(e) => return vec![Row::failed("6", what, &e.to_string())],
    };
    let (file, memory) = (restore.file, restore.memory);
    vec![Row {
        item: "6",
        what: format!("{what}, median of {} restores", file.n),
        native: format!(
            "{} (`FileStorage`); {} (`MemoryStorage`)",
            stats::ms(file.median),
            stats::ms(memory.median)
        ),
        alternative: "— (the JS SDK re-reads project settings from the network at start: row 3's initializeClient)".to_owned(),
        ratio: "—".to_owned(),
        notes: format!(
            "client construction + storage read + decode + state settled, API base unreachable; file p10–p90 {}–{}, p99 {}; memory p10–p90 {}–{}, p99 {}",
            stats::ms(file.p10),
            stats::ms(file.p90),
            stats::ms(file.p99),
            stats::ms(memory.p10),
            stats::ms(memory.p90),
            stats::ms(memory.p99)
        ),
    }]
}

/// `access_token()` calls and step-ups timed for row 7.
const TOKEN_RUNS: usize = 2000;
const STEP_UP_RUNS: usize = 200;

fn step_up_rows(context: &Context) -> Vec<Row> {
    let what_token = "7. `access_token()` with a fresh bearer (no request)";
    let what_step_up = "7. Step-up (`verify_with_external_jwt`) over loopback";
    let measured = match step_up::measure(&context.fixture, TOKEN_RUNS, STEP_UP_RUNS) {
        Ok(measured) => measured,
        Err(e) => {
            let why = e.to_string();
            return vec![
                Row::failed("7", what_token, &why),
                Row::failed("7", what_step_up, &why),
            ];
        }
    };
    let (token, step_up) = (measured.access_token, measured.step_up);
    vec![
        Row {
            item: "7",
            what: format!("{what_token}, median of {}", token.n),
            native: stats::ms(token.median),
            alternative: "—".to_owned(),
            ratio: "—".to_owned(),
            notes: format!(
                "the async call through the library's runtime, clock check included; p10–p90 {}–{}, p99 {}",
                stats::ms(token.p10),
                stats::ms(token.p90),
                stats::ms(token.p99)
            ),
        },
        Row {
            item: "7",
            what: format!("{what_step_up}, median of {}", step_up.n),
            native: stats::ms(step_up.median),
            alternative: "—".to_owned(),
            ratio: "—".to_owned(),
            notes: format!(
                "assertion preflight + POST externalAuth/verify (the emulator verifies the ES256 assertion) + reading the elevated token's claims; p10–p90 {}–{}, p99 {}",
                stats::ms(step_up.p10),
                stats::ms(step_up.p90),
                stats::ms(step_up.p99)
            ),
        },
    ]
}

/// `byoa-bench serve FIXTURE`: for working on the JS subject by hand.
fn serve(path: &Path) -> BoxResult<()> {
    let fixture = Fixture::start()?;
    fixture.write(path)?;
    eprintln!(
        "byoa-bench: emulator at {}, fixture in {}; close stdin (Ctrl-D) to stop",
        fixture.base_url(),
        path.display()
    );
    let mut sink = Vec::new();
    std::io::stdin().read_to_end(&mut sink)?;
    fixture.shutdown();
    Ok(())
}
