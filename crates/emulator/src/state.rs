//! The emulator's in-memory world: users, sessions, rate-limit windows, nonces, and the test
//! hooks' counters and fault queues. All of it sits behind one `std::sync::Mutex` owned by the
//! server; nothing here awaits, so the lock is never held across an `.await`.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::faults::Fault;
use crate::ids::random_uuid;
use crate::nonces::NonceBook;
use crate::verify::VerifiedExternalJwt;

/// Length of the rate limiter's window.
pub(crate) const RATE_WINDOW: Duration = Duration::from_secs(60);

#[derive(Default)]
pub(crate) struct State {
    envs: HashMap<String, EnvState>,
    /// Requests per (environment id, route), faulted ones included.
    counters: HashMap<(String, String), usize>,
    /// When each request per (environment id, route) arrived, on the emulator's clock.
    arrivals: HashMap<(String, String), Vec<i64>>,
    /// Pending injected responses per route, any environment.
    faults: HashMap<String, VecDeque<Fault>>,
    /// Routes whose requests wait until their hold is released (`Emulator::hold`).
    holds: HashMap<String, tokio::sync::watch::Receiver<bool>>,
}

impl State {
    pub(crate) fn new<'a>(environment_ids: impl IntoIterator<Item = &'a str>) -> Self {
        Self {
            envs: environment_ids
                .into_iter()
                .map(|id| (id.to_owned(), EnvState::default()))
                .collect(),
            ..Self::default()
        }
    }

    pub(crate) fn env(&self, environment_id: &str) -> Option<&EnvState> {
        self.envs.get(environment_id)
    }

    pub(crate) fn env_mut(&mut self, environment_id: &str) -> Option<&mut EnvState> {
        self.envs.get_mut(environment_id)
    }

    pub(crate) fn count_request(&mut self, environment_id: &str, route: &str, now: i64) {
        let key = (environment_id.to_owned(), route.to_owned());
        *self.counters.entry(key.clone()).or_default() += 1;
        self.arrivals.entry(key).or_default().push(now);
    }

    pub(crate) fn request_times(&self, environment_id: &str, route: &str) -> Vec<i64> {
        self.arrivals
            .get(&(environment_id.to_owned(), route.to_owned()))
            .cloned()
            .unwrap_or_default()
    }

    pub(crate) fn request_count(&self, environment_id: &str, route: &str) -> usize {
        self.counters
            .get(&(environment_id.to_owned(), route.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    pub(crate) fn push_faults(&mut self, route: &str, faults: Vec<Fault>) {
        self.faults
            .entry(route.to_owned())
            .or_default()
            .extend(faults);
    }

    pub(crate) fn next_fault(&mut self, route: &str) -> Option<Fault> {
        self.faults.get_mut(route)?.pop_front()
    }

    pub(crate) fn set_hold(&mut self, route: &str, released: tokio::sync::watch::Receiver<bool>) {
        self.holds.insert(route.to_owned(), released);
    }

    /// The hold on `route`, if one is set and not yet released.
    pub(crate) fn hold(&mut self, route: &str) -> Option<tokio::sync::watch::Receiver<bool>> {
        let released = *self.holds.get(route)?.borrow();
        if released {
            self.holds.remove(route);
            return None;
        }
        self.holds.get(route).cloned()
    }
}

/// A Dynamic user created from an external `sub`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UserRecord {
    pub id: String,
    pub external_sub: String,
    /// Id of the `externalUser` verified credential; stable for the user.
    pub external_credential_id: String,
    /// From the most recent sign-in's `email` claim.
    pub email: Option<String>,
    /// The most recent sign-in's `emailVerified` was `true`: the user has an email credential.
    pub email_verified: bool,
    /// Id of the `email` verified credential whenever it exists; stable for the user.
    pub email_credential_id: String,
}

/// One Dynamic session (`sid`), created by a sign-in and kept through refreshes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SessionRecord {
    pub sid: String,
    pub user_id: String,
    pub session_public_key: Option<String>,
    /// The token audience: the sign-in request's `Origin`, else the environment id.
    pub aud: String,
    pub sdk_version: Option<String>,
    pub revoked: bool,
    /// The device key whose signature the sign-in carried: refreshes must come from it.
    pub device_public_key: Option<String>,
}

/// The sandbox user cap would be exceeded by creating a user.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct UserCapReached;

#[derive(Default)]
pub(crate) struct EnvState {
    users: HashMap<String, UserRecord>,
    user_by_sub: HashMap<String, String>,
    sessions: HashMap<String, SessionRecord>,
    signin_window: RateWindow,
    pub nonces: NonceBook,
    /// `jti`s of step-up assertions already accepted, with the time after which their
    /// assertion would be refused as expired anyway (then they are forgotten).
    used_assertion_ids: HashMap<String, i64>,
    pub last_logout_reason: Option<String>,
}

impl EnvState {
    /// The user for the JWT's `sub`, created when new (unless the cap is reached), with email
    /// data refreshed from this sign-in. `true` when the user was created now.
    pub(crate) fn upsert_user(
        &mut self,
        jwt: &VerifiedExternalJwt,
        max_users: Option<usize>,
    ) -> Result<(UserRecord, bool), UserCapReached> {
        let (user_id, created) = match self.user_by_sub.get(&jwt.sub) {
            Some(id) => (id.clone(), false),
            None => (self.create_user(&jwt.sub, max_users)?, true),
        };
        let user = self.users.get_mut(&user_id).expect("indexed user exists");
        user.email = jwt.email.clone();
        user.email_verified = jwt.email.is_some() && jwt.email_verified;
        Ok((user.clone(), created))
    }

    fn create_user(
        &mut self,
        sub: &str,
        max_users: Option<usize>,
    ) -> Result<String, UserCapReached> {
        if max_users.is_some_and(|max| self.users.len() >= max) {
            return Err(UserCapReached);
        }
        let user = UserRecord {
            id: random_uuid(),
            external_sub: sub.to_owned(),
            external_credential_id: random_uuid(),
            email: None,
            email_verified: false,
            email_credential_id: random_uuid(),
        };
        let id = user.id.clone();
        self.user_by_sub.insert(sub.to_owned(), id.clone());
        self.users.insert(id.clone(), user);
        Ok(id)
    }

    pub(crate) fn open_session(
        &mut self,
        user_id: &str,
        session_public_key: Option<String>,
        aud: String,
        sdk_version: Option<String>,
    ) -> SessionRecord {
        let session = SessionRecord {
            sid: random_uuid(),
            user_id: user_id.to_owned(),
            session_public_key,
            aud,
            sdk_version,
            revoked: false,
            device_public_key: None,
        };
        self.sessions.insert(session.sid.clone(), session.clone());
        session
    }

    /// The session and its user, when the session exists and is not revoked.
    pub(crate) fn active_session(&self, sid: &str) -> Option<(SessionRecord, UserRecord)> {
        let session = self.sessions.get(sid).filter(|s| !s.revoked)?;
        let user = self.users.get(&session.user_id)?;
        Some((session.clone(), user.clone()))
    }

    pub(crate) fn set_sdk_version(&mut self, sid: &str, sdk_version: Option<String>) {
        if let (Some(session), Some(version)) = (self.sessions.get_mut(sid), sdk_version) {
            session.sdk_version = Some(version);
        }
    }

    pub(crate) fn set_device_key(&mut self, sid: &str, device_public_key: Option<String>) {
        if let Some(session) = self.sessions.get_mut(sid) {
            session.device_public_key = device_public_key;
        }
    }

    pub(crate) fn revoke(&mut self, sid: &str) {
        if let Some(session) = self.sessions.get_mut(sid) {
            session.revoked = true;
        }
    }

    pub(crate) fn revoke_all(&mut self) {
        self.sessions.values_mut().for_each(|s| s.revoked = true);
    }

    pub(crate) fn user_count(&self) -> usize {
        self.users.len()
    }

    /// Admits a sign-in attempt under `limit` per [`RATE_WINDOW`], or says how long until one
    /// would be admitted.
    pub(crate) fn admit_signin(
        &mut self,
        now: Instant,
        limit: Option<u32>,
    ) -> Result<(), Duration> {
        match limit {
            Some(limit) => self.signin_window.admit(now, limit),
            None => Ok(()),
        }
    }

    /// Records a step-up assertion's `jti` until `expires` (unix seconds, leeway included);
    /// false when it was used before (a replay). Entries past their time are dropped first, so
    /// the set holds only assertions that could still be presented.
    pub(crate) fn use_assertion_id(&mut self, jti: &str, expires: i64, now: i64) -> bool {
        self.used_assertion_ids.retain(|_, until| *until >= now);
        if self.used_assertion_ids.contains_key(jti) {
            return false;
        }
        self.used_assertion_ids.insert(jti.to_owned(), expires);
        true
    }

    /// `count` fresh single-use nonces (32 hex characters each), valid until `expires_at`.
    pub(crate) fn issue_nonces(&mut self, count: usize, expires_at: i64) -> Vec<String> {
        self.nonces.issue(count, expires_at)
    }
}

/// Sliding-window log of admitted requests.
#[derive(Default)]
pub(crate) struct RateWindow {
    admitted: VecDeque<Instant>,
}

impl RateWindow {
    fn admit(&mut self, now: Instant, limit: u32) -> Result<(), Duration> {
        while self
            .admitted
            .front()
            .is_some_and(|&at| now.saturating_duration_since(at) >= RATE_WINDOW)
        {
            self.admitted.pop_front();
        }
        if self.admitted.len() < limit as usize {
            self.admitted.push_back(now);
            return Ok(());
        }
        // Full (or a zero limit): wait until the oldest admitted request leaves the window.
        let oldest = self.admitted.front().copied().unwrap_or(now);
        Err(RATE_WINDOW.saturating_sub(now.saturating_duration_since(oldest)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    #[test]
    fn an_assertion_id_works_once_and_is_forgotten_when_its_assertion_expires() {
        let mut env = EnvState::default();
        assert!(env.use_assertion_id("a", 100, 50));
        assert!(!env.use_assertion_id("a", 100, 99), "a replay");
        assert!(env.use_assertion_id("b", 300, 101));
        assert_eq!(
            env.used_assertion_ids.len(),
            1,
            "`a` could no longer be presented"
        );
    }

    fn jwt(sub: &str, email: Option<&str>, verified: bool) -> VerifiedExternalJwt {
        VerifiedExternalJwt {
            sub: sub.to_owned(),
            claims: Map::new(),
            email: email.map(str::to_owned),
            email_verified: verified,
        }
    }

    #[test]
    fn same_sub_maps_to_the_same_user_and_only_the_first_is_new() {
        let mut env = EnvState::default();
        let (first, created) = env.upsert_user(&jwt("ext-1", None, false), None).unwrap();
        assert!(created);
        let (again, created) = env.upsert_user(&jwt("ext-1", None, false), None).unwrap();
        assert!(!created);
        assert_eq!(first.id, again.id);
        assert_eq!(first.external_credential_id, again.external_credential_id);
        let (other, _) = env.upsert_user(&jwt("ext-2", None, false), None).unwrap();
        assert_ne!(other.id, first.id);
    }

    #[test]
    fn user_cap_blocks_only_new_users() {
        let mut env = EnvState::default();
        env.upsert_user(&jwt("a", None, false), Some(1)).unwrap();
        assert_eq!(
            env.upsert_user(&jwt("b", None, false), Some(1)),
            Err(UserCapReached)
        );
        assert!(env.upsert_user(&jwt("a", None, false), Some(1)).is_ok());
        assert_eq!(env.user_count(), 1);
    }

    #[test]
    fn email_credential_follows_the_latest_sign_in_with_a_stable_id() {
        let mut env = EnvState::default();
        let (user, _) = env
            .upsert_user(&jwt("a", Some("a@x.io"), true), None)
            .unwrap();
        assert!(user.email_verified);
        let (later, _) = env
            .upsert_user(&jwt("a", Some("a@x.io"), false), None)
            .unwrap();
        assert!(!later.email_verified);
        assert_eq!(later.email.as_deref(), Some("a@x.io"));
        let (again, _) = env
            .upsert_user(&jwt("a", Some("a@x.io"), true), None)
            .unwrap();
        assert_eq!(again.email_credential_id, user.email_credential_id);
    }

    #[test]
    fn revoked_sessions_are_not_active() {
        let mut env = EnvState::default();
        let (user, _) = env.upsert_user(&jwt("a", None, false), None).unwrap();
        let one = env.open_session(&user.id, None, "aud".into(), None);
        let two = env.open_session(&user.id, Some("02ab".into()), "aud".into(), None);
        assert_ne!(one.sid, two.sid);
        env.revoke(&one.sid);
        assert!(env.active_session(&one.sid).is_none());
        assert_eq!(env.active_session(&two.sid).unwrap().0, two);
        env.revoke_all();
        assert!(env.active_session(&two.sid).is_none());
    }

    #[test]
    fn rate_window_admits_the_limit_then_reports_when_a_slot_frees() {
        let mut window = RateWindow::default();
        let start = Instant::now();
        assert!(window.admit(start, 2).is_ok());
        assert!(window.admit(start + Duration::from_secs(10), 2).is_ok());
        let wait = window
            .admit(start + Duration::from_secs(15), 2)
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(45));
        // Once the first request is a minute old its slot is free again.
        assert!(window.admit(start + Duration::from_secs(60), 2).is_ok());
        assert!(window.admit(start + Duration::from_secs(61), 2).is_err());
    }

    #[test]
    fn zero_rate_limit_refuses_everything() {
        let mut window = RateWindow::default();
        assert!(window.admit(Instant::now(), 0).is_err());
    }

    #[test]
    fn counters_and_faults_are_per_route() {
        let mut state = State::new(["e"]);
        state.count_request("e", "refresh", 100);
        state.count_request("e", "refresh", 160);
        assert_eq!(state.request_count("e", "refresh"), 2);
        assert_eq!(state.request_times("e", "refresh"), [100, 160]);
        assert_eq!(state.request_count("e", "revoke"), 0);
        state.push_faults("refresh", vec![Fault::status(500), Fault::status(502)]);
        assert_eq!(state.next_fault("refresh").unwrap().status, 500);
        assert!(state.next_fault("revoke").is_none());
        assert_eq!(state.next_fault("refresh").unwrap().status, 502);
        assert!(state.next_fault("refresh").is_none());
    }
}
