//! `byoa-soak`: a long, seeded, randomised run of the client against the emulator, with faults,
//! checking invariants after every step. A benchmark-style program, not a timed test.
//!
//! ```text
//! byoa-soak [--ops N (5000)] [--seed S (1)] [--users U (4)] [--trace]
//! ```
//!
//! One client at a time, on a `FileStorage` directory and a `ManualClock` kept in step with the
//! emulator's and the issuer's clocks, does a random mix of sign-ins (as several users),
//! access-token calls, refreshes, step-ups, sign-outs, restarts (a new client on the same
//! directory), passing time (short, or past the session's expiry) and server-side revocations;
//! a share of the operations first queues faults on the route they use (5xx, 429, dropped
//! connections, garbage bodies, responses held past the client's timeout).
//!
//! After every step it checks:
//! 1. the state and the stored record agree (signed in as U ⇔ a record of U);
//! 2. a session is lost only by a sign-out, an expiry (time passed its end) or a refusal with its
//!    reason (after a revocation); a failed sign-in keeps the session it found;
//! 3. a signed-out client sends no request for a token, a refresh, a step-up or a sign-out;
//! 4. no log line holds a secret (an external JWT, a Dynamic token, an elevated token) or a
//!    token-shaped run;
//! 5. threads and open file descriptors stay bounded.
//!
//! And at the end, that resident memory did not grow over the second half of the run.
//! It prints what it did and every violation, and exits non-zero on any.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dynamic_byoa::clock::{Clock, ManualClock};
use dynamic_byoa::{
    AccessTokenOptions, AuthState, ByoaError, ClientConfig, ClientDependencies, DynamicClient,
    FileStorage, LogLevel, Logger, SessionStorage, SignInWithExternalJwtParams, SignOutReason,
    VerifyWithExternalJwtParams,
};
use dynamic_byoa_contract::paths;
use dynamic_byoa_emulator::{
    Emulator, EmulatorConfig, EnvironmentConfig, Fault, SigningKey, TestIssuer,
};

const ENV: &str = "2762a57b-faa4-41ce-9f16-abff9300e2c9";
const SESSION_TTL: Duration = Duration::from_secs(2 * 60 * 60);
/// Short, so that a held response costs little wall time.
const REQUEST_TIMEOUT_MS: i64 = 400;
/// The client's clock leeway: an expiry this close is not a lost session.
const LEEWAY_SECONDS: i64 = 60;
const ROUTES: &[&str] = &[
    paths::EXTERNAL_AUTH_SIGNIN,
    paths::EXTERNAL_AUTH_VERIFY,
    paths::REFRESH,
    paths::REVOKE,
    paths::SESSION,
    paths::USERS,
    paths::SETTINGS,
    paths::JWKS,
    paths::JWKS_JSON,
    paths::NONCE,
    paths::NONCES,
];

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> ExitCode {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(error) => {
            eprintln!("byoa-soak: {error}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("soak")
        .enable_all()
        .build()
        .expect("a runtime");
    match runtime.block_on(soak(options)) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("byoa-soak: {error}");
            ExitCode::FAILURE
        }
    }
}

struct Options {
    ops: usize,
    seed: u64,
    users: usize,
    /// Print every step and every failure to stderr.
    trace: bool,
}

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> BoxResult<Self> {
        let mut options = Self {
            ops: 5000,
            seed: 1,
            users: 4,
            trace: false,
        };
        while let Some(flag) = args.next() {
            if flag == "--trace" {
                options.trace = true;
                continue;
            }
            let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
            match flag.as_str() {
                "--ops" => options.ops = value.parse()?,
                "--seed" => options.seed = value.parse()?,
                "--users" => options.users = value.parse::<usize>()?.max(1),
                _ => return Err(format!("unknown option {flag}").into()),
            }
        }
        Ok(options)
    }
}

/// xorshift64*: a fixed seed gives the same run, with no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    SignIn,
    AccessToken,
    Refresh,
    StepUp,
    SignOut,
    Restart,
    PassTime,
    PassExpiry,
    Revoke,
}

impl Op {
    /// Weighted choice; the weights sum to 100.
    fn pick(rng: &mut Rng) -> Self {
        let table = [
            (Self::SignIn, 22),
            (Self::AccessToken, 22),
            (Self::Refresh, 12),
            (Self::StepUp, 10),
            (Self::SignOut, 9),
            (Self::Restart, 9),
            (Self::PassTime, 11),
            (Self::PassExpiry, 3),
            (Self::Revoke, 2),
        ];
        let mut roll = rng.below(100) as i64;
        for (op, weight) in table {
            roll -= weight;
            if roll < 0 {
                return op;
            }
        }
        Self::SignIn
    }

    /// The route a fault must sit on to reach this operation.
    fn route(self, rng: &mut Rng) -> Option<&'static str> {
        match self {
            Self::SignIn if rng.chance(15) => Some(paths::JWKS),
            Self::SignIn => Some(paths::EXTERNAL_AUTH_SIGNIN),
            Self::Refresh | Self::AccessToken => Some(paths::REFRESH),
            Self::StepUp => Some(paths::EXTERNAL_AUTH_VERIFY),
            Self::SignOut => Some(paths::REVOKE),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum FaultKind {
    ServerError,
    RateLimited,
    Dropped,
    Garbage,
    Held,
}

impl FaultKind {
    fn pick(rng: &mut Rng) -> Self {
        match rng.below(10) {
            0..=2 => Self::ServerError,
            3 => Self::RateLimited,
            4..=6 => Self::Dropped,
            7 | 8 => Self::Garbage,
            _ => Self::Held,
        }
    }

    /// The queued responses: one to four, so that retries sometimes get through and sometimes
    /// do not.
    fn faults(self, rng: &mut Rng) -> Vec<Fault> {
        let count = 1 + rng.below(4) as usize;
        let one = |rng: &mut Rng| match self {
            Self::ServerError => Fault::status([500, 502, 503][rng.below(3) as usize]),
            Self::RateLimited => Fault::status(429).with_header("retry-after", "0"),
            Self::Dropped => Fault::connection_drop(),
            Self::Garbage => Fault::status(200).with_body(
                ["<html>gateway</html>", "{\"jwt\":", "{}", "[1,2,3]"][rng.below(4) as usize],
            ),
            Self::Held => Fault::status(500),
        };
        (0..count).map(|_| one(rng)).collect()
    }
}

/// The world: issuer, emulator, one clock for the three of them.
struct World {
    issuer: TestIssuer,
    emulator: Emulator,
    clock: Arc<ManualClock>,
    /// When the device clock last caught up with real time (see [`World::keep_up`]).
    kept_up: std::sync::Mutex<std::time::Instant>,
    store_dir: PathBuf,
}

impl World {
    async fn start() -> BoxResult<Self> {
        let issuer = TestIssuer::start().await?;
        let mut environment = EnvironmentConfig::new(ENV, issuer.issuer(), issuer.jwks_url());
        environment.session_ttl = SESSION_TTL;
        let config = EmulatorConfig {
            environments: vec![environment],
            signing_key: Some(SigningKey::generate()),
            ..EmulatorConfig::default()
        };
        let emulator = Emulator::start(config).await?;
        let store_dir = std::env::temp_dir().join(format!("byoa-soak-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&store_dir);
        Ok(Self {
            issuer,
            emulator,
            clock: Arc::new(ManualClock::starting_now()),
            kept_up: std::sync::Mutex::new(std::time::Instant::now()),
            store_dir,
        })
    }

    fn client(&self) -> Arc<DynamicClient> {
        let config = ClientConfig {
            request_timeout_ms: Some(REQUEST_TIMEOUT_MS),
            clock_leeway_seconds: Some(LEEWAY_SECONDS),
            // Refreshes happen when a call needs one, so every change of state has a cause the
            // soak knows about (expiry still ends a session in the background).
            auto_refresh: Some(false),
            ..ClientConfig::new(ENV).with_api_base_url(self.emulator.base_url())
        };
        let dependencies = ClientDependencies {
            storage: Some(Arc::new(FileStorage::new(&self.store_dir))),
            ..Default::default()
        };
        DynamicClient::with_clock(config, dependencies, self.clock.clone()).expect("valid config")
    }

    /// Lets `by` pass everywhere at once, as a device that sleeps sees it: with the emulator's
    /// time paused, no answer is stamped with one clock moved and read on another not yet moved
    /// (that read as a server ahead of the device: sessions lost as expired, fresh JWTs "not yet
    /// valid"). An answer stamped before and read after is the transport's to distrust. The
    /// servers move first: moving the device clock wakes the client's scheduler.
    async fn pass(&self, by: Duration) {
        let paused = self.emulator.pause_time().await;
        self.keep_up();
        self.emulator.advance_time(by);
        self.issuer.advance_time(by);
        self.clock.advance(by);
        drop(paused);
    }

    /// Moves the device clock by the real time elapsed since the last call. The emulator's and
    /// the issuer's clocks are the real clock plus what [`World::pass`] added; a device clock
    /// that stood still between passes fell behind them by the run's duration, and once that
    /// passed the leeway (a loaded 10,000-op run), sessions ended "early" on the server's time
    /// and fresh JWTs read as "not yet valid" on the device's.
    fn keep_up(&self) {
        let mut kept_up = self.kept_up.lock().unwrap_or_else(|p| p.into_inner());
        let now = std::time::Instant::now();
        self.clock.advance(now - *kept_up);
        *kept_up = now;
    }

    fn now_ms(&self) -> i64 {
        epoch_ms(self.clock.now())
    }

    /// Requests so far, per route.
    fn requests(&self) -> Vec<usize> {
        ROUTES
            .iter()
            .map(|route| self.emulator.request_count(ENV, route))
            .collect()
    }

    fn stored_record(&self) -> Result<Option<String>, String> {
        FileStorage::new(&self.store_dir)
            .get(format!("dynamic_{ENV}_session"))
            .map_err(|e| e.to_string())
    }
}

fn epoch_ms(time: std::time::SystemTime) -> i64 {
    time.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Every log line, to be checked and dropped after each step.
#[derive(Default)]
struct Lines(Mutex<Vec<String>>);

impl Logger for Lines {
    fn log(&self, _level: LogLevel, target: String, message: String) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(format!("{target} {message}"));
    }
}

impl Lines {
    fn drain(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// The secrets seen so far, by their signature segment (unique per token, and never
/// starting with `eyJ`, which the token-shape check catches for the other two segments).
#[derive(Default)]
struct Secrets(HashSet<String>);

impl Secrets {
    fn add(&mut self, token: &str) {
        if let Some(signature) = token.rsplit('.').next().filter(|s| s.len() >= 16) {
            self.0.insert(signature.to_owned());
        }
    }

    /// Why `line` leaks, if it does.
    fn leak_in(&self, line: &str) -> Option<&'static str> {
        let words = line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        for word in words {
            if word.len() >= 16 && self.0.contains(word) {
                return Some("a token's signature");
            }
            if word.starts_with("eyJ") && word.len() >= 16 {
                return Some("a token-shaped run");
            }
        }
        None
    }
}

/// What the soak observes of the client after a step.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    SignedOut(Option<SignOutReason>),
    SignedIn { user_id: String, expires_at_ms: i64 },
    Other(String),
}

impl Seen {
    fn of(state: &AuthState) -> Self {
        match state {
            AuthState::SignedOut { reason } => Self::SignedOut(*reason),
            AuthState::SignedIn { session } => Self::SignedIn {
                user_id: session.user.user_id.clone(),
                expires_at_ms: session.expires_at_ms,
            },
            other => Self::Other(format!("{other:?}")),
        }
    }

    fn user(&self) -> Option<&str> {
        match self {
            Self::SignedIn { user_id, .. } => Some(user_id),
            _ => None,
        }
    }
}

#[derive(Default)]
struct Tally {
    ops: BTreeMap<Op, (usize, usize)>,
    faults: BTreeMap<FaultKind, usize>,
    errors: BTreeMap<&'static str, usize>,
    violations: Vec<String>,
    log_lines: usize,
    max_threads: usize,
    max_fds: usize,
}

impl Tally {
    fn violation(&mut self, step: usize, op: Op, what: String) {
        if self.violations.len() < 1000 {
            self.violations
                .push(format!("step {step} ({op:?}): {what}"));
        }
    }
}

/// The outcome of one operation, as far as the invariants care.
struct Outcome {
    error: Option<ByoaError>,
    /// The user a successful sign-in signed in.
    signed_in_as: Option<String>,
}

impl Outcome {
    fn from<T>(result: Result<T, ByoaError>) -> Self {
        Self {
            error: result.err(),
            signed_in_as: None,
        }
    }
}

async fn soak(options: Options) -> BoxResult<usize> {
    let world = World::start().await?;
    let lines = Arc::new(Lines::default());
    dynamic_byoa::set_logger(Some(lines.clone()), LogLevel::Debug);
    let mut rng = Rng(options.seed.max(1));
    let mut secrets = Secrets::default();
    let mut tally = Tally::default();
    let mut client = world.client();
    client.auth().restore().await;
    let mut seen = Seen::of(&client.auth().state());
    // Set by a revocation; cleared by the next sign-in. Only then may a refresh end a session.
    let mut revoked = false;
    let mut jti = 0_u64;
    let baseline_threads = threads();
    let baseline_fds = fds();
    let started = Instant::now();
    let mut rss_half = 0;
    let rss_start = rss_kb();

    for step in 0..options.ops {
        if step == options.ops / 2 {
            rss_half = rss_kb();
        }
        world.keep_up();
        let op = Op::pick(&mut rng);
        if options.trace {
            eprintln!(
                "step {step}: {op:?} at {} s, {seen:?}",
                world.now_ms() / 1000
            );
        }
        let requests_before = world.requests();
        let mut hold = None;
        if rng.chance(15)
            && let Some(route) = op.route(&mut rng)
        {
            let kind = FaultKind::pick(&mut rng);
            *tally.faults.entry(kind).or_default() += 1;
            if kind == FaultKind::Held {
                hold = Some(world.emulator.hold(route));
            } else {
                world.emulator.inject_faults(route, kind.faults(&mut rng));
            }
        }
        let user = format!("soak-user-{}", rng.below(options.users as u64));
        let outcome = match op {
            Op::SignIn => {
                let jwt = world
                    .issuer
                    .mint(&world.issuer.claims_for(&user, Duration::from_secs(3600)));
                secrets.add(&jwt);
                let params = SignInWithExternalJwtParams {
                    external_jwt: jwt,
                    external_user_id: user.clone(),
                    session_public_key: None,
                };
                let result = client
                    .auth()
                    .external()
                    .sign_in_with_external_jwt(params)
                    .await;
                if result.is_ok() {
                    revoked = false;
                }
                Outcome {
                    signed_in_as: result.as_ref().ok().map(|s| s.user.user_id.clone()),
                    error: result.err(),
                }
            }
            Op::AccessToken => {
                let result = client
                    .auth()
                    .access_token(AccessTokenOptions::default())
                    .await;
                if let Ok(token) = &result {
                    secrets.add(token);
                }
                Outcome::from(result)
            }
            Op::Refresh => Outcome::from(client.auth().refresh().await),
            Op::StepUp => {
                let sub = client
                    .auth()
                    .session()
                    .and_then(|s| s.user.external_user_id)
                    .unwrap_or(user);
                jti += 1;
                let mut claims = world.issuer.claims_for(&sub, Duration::from_secs(300));
                claims["scope"] = "wallet:export".into();
                claims["jti"] = format!("soak-{jti}").into();
                if rng.chance(50) {
                    claims["singleUse"] = true.into();
                }
                let assertion = world.issuer.mint(&claims);
                secrets.add(&assertion);
                let params = VerifyWithExternalJwtParams {
                    external_jwt: assertion,
                };
                let result = client
                    .auth()
                    .external()
                    .verify_with_external_jwt(params)
                    .await;
                if result.is_ok()
                    && let Some(token) = client
                        .auth()
                        .elevated_access_token(vec!["wallet:export".into()])
                {
                    secrets.add(&token);
                }
                Outcome::from(result)
            }
            Op::SignOut => {
                client.auth().sign_out().await;
                Outcome::from(Ok(()))
            }
            Op::Restart => {
                drop(client);
                client = world.client();
                client.auth().restore().await;
                Outcome::from(Ok(()))
            }
            Op::PassTime => {
                world.pass(Duration::from_secs(1 + rng.below(1200))).await;
                Outcome::from(Ok(()))
            }
            Op::PassExpiry => {
                world
                    .pass(SESSION_TTL + Duration::from_secs(1 + rng.below(600)))
                    .await;
                Outcome::from(Ok(()))
            }
            Op::Revoke => {
                world.emulator.revoke_all_sessions(ENV);
                revoked = true;
                Outcome::from(Ok(()))
            }
        };
        drop(hold);
        if let Some(tokens) = client.auth().tokens() {
            secrets.add(&tokens.bearer_token());
        }
        let entry = tally.ops.entry(op).or_default();
        if outcome.error.is_none() {
            entry.0 += 1;
        } else {
            entry.1 += 1;
        }
        if let Some(error) = &outcome.error {
            *tally.errors.entry(error.code_str()).or_default() += 1;
            if options.trace {
                eprintln!("step {step}: {op:?} failed: {error}");
            }
        }

        let now = settled(&world, &client).await;
        check_transition(
            &mut tally,
            step,
            op,
            &seen,
            &now,
            &outcome,
            revoked,
            world.now_ms(),
        );
        if matches!(seen, Seen::SignedOut(_))
            && matches!(op, Op::AccessToken | Op::Refresh | Op::StepUp | Op::SignOut)
        {
            let sent: Vec<&str> = ROUTES
                .iter()
                .zip(world.requests().iter().zip(&requests_before))
                // A revoke of the session that just ended may still be on its way, and a
                // client dropped by a restart may still be asking for the time (the keys).
                .filter(|(route, (now, before))| {
                    now != before && **route != paths::REVOKE && **route != paths::JWKS
                })
                .map(|(route, _)| *route)
                .collect();
            if !sent.is_empty() {
                tally.violation(
                    step,
                    op,
                    format!("a signed-out client sent a request ({})", sent.join(", ")),
                );
            }
            if op != Op::SignOut
                && outcome.error.as_ref().map(ByoaError::code_str) != Some("not_signed_in")
            {
                let code = outcome.error.as_ref().map(ByoaError::code_str);
                tally.violation(step, op, format!("signed out, yet the call gave {code:?}"));
            }
        }
        for line in lines.drain() {
            tally.log_lines += 1;
            if let Some(what) = secrets.leak_in(&line) {
                tally.violation(step, op, format!("a log line holds {what}"));
            }
        }
        tally.max_threads = tally.max_threads.max(threads());
        tally.max_fds = tally.max_fds.max(fds());
        seen = now.0;
    }

    let elapsed = started.elapsed();
    let rss_end = rss_kb();
    if tally.max_threads > baseline_threads + 32 {
        tally.violations.push(format!(
            "threads grew from {baseline_threads} to {}",
            tally.max_threads
        ));
    }
    if tally.max_fds > baseline_fds + 128 {
        tally.violations.push(format!(
            "open file descriptors grew from {baseline_fds} to {}",
            tally.max_fds
        ));
    }
    // The second half starts warm (pools, caches, the emulator's tables at size); a leak of the
    // client's shows as growth there. The emulator keeps every session it minted, a few hundred
    // bytes each, hence the allowance.
    let allowance_kb = 8 * 1024;
    if options.ops >= 1000 && rss_end > rss_half + allowance_kb {
        tally.violations.push(format!(
            "resident memory grew over the second half: {rss_half} kB -> {rss_end} kB"
        ));
    }
    dynamic_byoa::set_logger(None, LogLevel::Error);
    drop(client);
    let _ = std::fs::remove_dir_all(&world.store_dir);
    report(&options, &tally, elapsed, [rss_start, rss_half, rss_end]);
    world.emulator.shutdown().await;
    Ok(tally.violations.len())
}

/// The state once the client's own background work for the step is done: state and record are
/// written one after the other, so a reading between the two is retried (bounded) before it
/// counts as a disagreement.
async fn settled(world: &World, client: &DynamicClient) -> (Seen, Result<Option<String>, String>) {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let seen = Seen::of(&client.auth().state());
        let record = world.stored_record();
        if agrees(&seen, &record) || Instant::now() >= deadline {
            return (seen, record);
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn agrees(seen: &Seen, record: &Result<Option<String>, String>) -> bool {
    match (seen, record) {
        (Seen::SignedIn { user_id, .. }, Ok(Some(text))) => text.contains(user_id.as_str()),
        (Seen::SignedOut(_), Ok(None)) => true,
        _ => false,
    }
}

#[allow(clippy::too_many_arguments)]
fn check_transition(
    tally: &mut Tally,
    step: usize,
    op: Op,
    before: &Seen,
    (after, record): &(Seen, Result<Option<String>, String>),
    outcome: &Outcome,
    revoked: bool,
    now_ms: i64,
) {
    if !agrees(after, record) {
        let record = match record {
            Ok(Some(_)) => "a record".to_owned(),
            Ok(None) => "no record".to_owned(),
            Err(e) => format!("a store error ({e})"),
        };
        tally.violation(step, op, format!("state {after:?} but {record}"));
    }
    if let Seen::Other(state) = after {
        tally.violation(step, op, format!("unexpected state {state}"));
    }
    match (before, after) {
        (Seen::SignedIn { user_id, .. }, Seen::SignedIn { user_id: now, .. })
            if user_id != now && outcome.signed_in_as.as_deref() != Some(now.as_str()) =>
        {
            tally.violation(step, op, "the user changed without a sign-in".into());
        }
        (Seen::SignedIn { expires_at_ms, .. }, Seen::SignedOut(reason)) => {
            let expired = now_ms >= expires_at_ms - LEEWAY_SECONDS * 1000;
            let allowed = match reason {
                Some(SignOutReason::UserIntent) => op == Op::SignOut,
                Some(SignOutReason::Expired) => expired,
                Some(SignOutReason::RefreshUnauthorized | SignOutReason::Revoked) => revoked,
                // The dropped client may still be ending its expired session (and deleting
                // the record) while the new one restores: no record, no reason. A process
                // kill would leave `Expired`; either way, expiry ended it.
                None => op == Op::Restart && expired,
                _ => false,
            };
            if !allowed {
                tally.violation(
                    step,
                    op,
                    format!("the session was lost ({reason:?}) with no cause"),
                );
            }
        }
        _ => {}
    }
    if op == Op::SignIn && outcome.error.is_some() && before.user() != after.user() {
        let expired_meanwhile = matches!(after, Seen::SignedOut(Some(SignOutReason::Expired)));
        if !expired_meanwhile {
            tally.violation(step, op, "a failed sign-in changed the session".into());
        }
    }
    if op == Op::SignOut && *after != Seen::SignedOut(Some(SignOutReason::UserIntent)) {
        let already_out =
            matches!(before, Seen::SignedOut(_)) && matches!(after, Seen::SignedOut(_));
        if !already_out {
            tally.violation(step, op, format!("after sign-out the state is {after:?}"));
        }
    }
    if op == Op::Restart && before.user().is_some() && after.user() != before.user() {
        let expired = match before {
            Seen::SignedIn { expires_at_ms, .. } => now_ms >= expires_at_ms - LEEWAY_SECONDS * 1000,
            _ => false,
        };
        if !expired {
            tally.violation(step, op, format!("a restart lost the session ({after:?})"));
        }
    }
}

fn report(options: &Options, tally: &Tally, elapsed: Duration, rss: [u64; 3]) {
    let total: usize = tally.ops.values().map(|(ok, err)| ok + err).sum();
    println!(
        "byoa-soak: {total} operations, seed {}, {} users, {:.1} s ({:.0} ops/s)",
        options.seed,
        options.users,
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64().max(1e-9)
    );
    println!("| operation | ok | failed |");
    println!("|---|---:|---:|");
    for (op, (ok, err)) in &tally.ops {
        println!("| {op:?} | {ok} | {err} |");
    }
    let faults: usize = tally.faults.values().sum();
    let kinds: Vec<String> = tally
        .faults
        .iter()
        .map(|(kind, n)| format!("{kind:?} {n}"))
        .collect();
    println!("faults injected: {faults} ({})", kinds.join(", "));
    let errors: Vec<String> = tally
        .errors
        .iter()
        .map(|(code, n)| format!("{code} {n}"))
        .collect();
    println!("errors by code: {}", errors.join(", "));
    println!("log lines checked: {}", tally.log_lines);
    println!(
        "threads (max): {}; open file descriptors (max): {}",
        tally.max_threads, tally.max_fds
    );
    println!(
        "resident memory: {} kB at start, {} kB at half, {} kB at end",
        rss[0], rss[1], rss[2]
    );
    println!("invariant violations: {}", tally.violations.len());
    for violation in tally.violations.iter().take(20) {
        println!("  {violation}");
    }
}

fn status_field(name: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn rss_kb() -> u64 {
    status_field("VmRSS:")
}

fn threads() -> usize {
    status_field("Threads:") as usize
}

fn fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |dir| dir.count())
}
