//! Step-up (contract §4.9): a signed-in user proves again, through the app's own provider, that
//! they are present, and gets a short-lived elevated access token for a sensitive action.
//!
//! The elevated tokens are kept in memory with the session they were granted to (its
//! generation: the same across refreshes, new with every sign-in, restore and end), keyed by
//! their scope set: expired ones are dropped, single-use ones are handed out once, and none is
//! handed out once its session has ended. They are never written to storage: they stand for "the
//! user was present a moment ago", last minutes, and a restarted app asking again is the safe
//! reading of that.
//!
//! The client reads the elevated token's claims but does not verify its signature: it only
//! forwards the token to Dynamic, which does, and the contract does not say which key signs it
//! [I]; refusing a valid token because of a guess would burn the assertion's `jti` for nothing.

use std::collections::BTreeSet;
use std::sync::Mutex;

use base64::Engine as _;
use dynamic_byoa_contract::{ElevatedAccessTokenClaims, ExternalAuthSigninRequest};

use crate::error::Error;
use crate::jwt::preflight::{self, BASE64URL, Expectations};
use crate::support::redact::REDACTED;
use crate::support::time::epoch_ms;

/// Parameters of `verifyWithExternalJwt`, named as in Dynamic's SDKs.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct VerifyWithExternalJwtParams {
    /// A fresh assertion from the app's provider: a JWT signed like the sign-in JWT (same
    /// issuer and keys) whose `sub` is the signed-in external user, with `scope`, `jti` and
    /// `exp`. Surrounding whitespace is ignored.
    pub external_jwt: String,
}

impl std::fmt::Debug for VerifyWithExternalJwtParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyWithExternalJwtParams")
            .field("external_jwt", &REDACTED)
            .finish()
    }
}

impl std::fmt::Display for VerifyWithExternalJwtParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

/// What a step-up granted. The token itself is read with `auth().elevated_access_token(scopes)`
/// when the sensitive call is made; it is not part of this record, so printing it is safe.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ElevatedAccess {
    /// The scopes the elevated token allows (the assertion's `scope`, split on spaces).
    pub scopes: Vec<String>,
    /// When the elevated token expires (server time), in milliseconds since the Unix epoch.
    pub expires_at_ms: i64,
    /// True when the token works for one call only: it is handed out once.
    pub single_use: bool,
}

/// Checks a step-up assertion on the device (at `server_now`) and builds the request body. The
/// `sub` must be `external_user_id` when the session knows it (Dynamic checks it regardless).
pub(crate) fn assertion_body(
    params: &VerifyWithExternalJwtParams,
    external_user_id: Option<&str>,
    server_now: i64,
    leeway_seconds: u64,
) -> Result<ExternalAuthSigninRequest, Error> {
    let jwt = params.external_jwt.trim();
    preflight::check_assertion(
        jwt,
        Expectations {
            external_user_id,
            now: server_now,
            leeway_seconds,
        },
    )?;
    Ok(ExternalAuthSigninRequest {
        jwt: Some(jwt.to_owned()),
        session_public_key: None,
    })
}

/// The claims of an elevated token Dynamic returned, checked for what the client relies on:
/// `scope` and `exp` present and not yet expired at `server_now`, and, where the token names
/// them, this environment and this user.
pub(crate) fn read_claims(
    token: &str,
    environment_id: &str,
    user_id: &str,
    server_now: i64,
) -> Result<ElevatedAccessTokenClaims, Error> {
    let invalid = |detail| Error::Incomplete {
        status: 200,
        detail,
    };
    let claims: ElevatedAccessTokenClaims = token
        .split('.')
        .nth(1)
        .and_then(|payload| BASE64URL.decode(payload).ok())
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| invalid("the elevated access token is not a JWT with scope and exp"))?;
    if claims
        .environment_id
        .as_deref()
        .is_some_and(|e| e != environment_id)
    {
        return Err(invalid(
            "the elevated access token is for another environment",
        ));
    }
    if claims.sub.as_deref().is_some_and(|sub| sub != user_id) {
        return Err(invalid("the elevated access token is for another user"));
    }
    if claims.exp <= server_now {
        return Err(invalid("the elevated access token arrived expired"));
    }
    Ok(claims)
}

/// One kept elevated token.
struct Elevated {
    /// The session generation it was granted to (see [`ElevatedTokens::keep`]).
    session: u64,
    scopes: BTreeSet<String>,
    token: String,
    expires_at: i64,
    single_use: bool,
}

/// The elevated tokens of the current session.
#[derive(Default)]
pub(crate) struct ElevatedTokens {
    kept: Mutex<Vec<Elevated>>,
}

impl ElevatedTokens {
    /// Keeps `token` for `session` (the generation of the session that asked for it), replacing
    /// one with the same scope set. Returns what was granted.
    pub fn keep(
        &self,
        session: u64,
        token: String,
        claims: &ElevatedAccessTokenClaims,
    ) -> ElevatedAccess {
        let scopes = scope_set(&claims.scope);
        let single_use = claims.single_use.unwrap_or(false);
        let granted = ElevatedAccess {
            scopes: scopes.iter().cloned().collect(),
            expires_at_ms: epoch_ms(claims.exp),
            single_use,
        };
        let mut kept = self.lock();
        kept.retain(|e| !(e.session == session && e.scopes == scopes));
        kept.push(Elevated {
            session,
            scopes,
            token,
            expires_at: claims.exp,
            single_use,
        });
        granted
    }

    /// The token for a call that needs every scope in `required`, granted to `session` and
    /// unexpired at `server_now`: one with exactly these scopes if there is one, else the
    /// longest-lived one that covers them. A single-use token is removed as it is handed out;
    /// expired tokens and those of other sessions are dropped on the way. Asking for no scope at
    /// all finds nothing: it would otherwise match any token, and use up a single-use one.
    pub fn take(&self, session: u64, required: &[String], server_now: i64) -> Option<String> {
        let required: BTreeSet<String> = required
            .iter()
            .flat_map(|s| scope_set(s))
            .collect::<BTreeSet<_>>();
        if required.is_empty() {
            return None;
        }
        let mut kept = self.lock();
        kept.retain(|e| e.session == session && e.expires_at > server_now);
        let index = kept.iter().position(|e| e.scopes == required).or_else(|| {
            kept.iter()
                .enumerate()
                .filter(|(_, e)| e.scopes.is_superset(&required))
                .max_by_key(|(_, e)| e.expires_at)
                .map(|(i, _)| i)
        })?;
        if kept[index].single_use {
            Some(kept.swap_remove(index).token)
        } else {
            Some(kept[index].token.clone())
        }
    }

    /// Forgets every elevated token (sign-out).
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Elevated>> {
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn scope_set(scope: &str) -> BTreeSet<String> {
    scope.split_whitespace().map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(scope: &str, exp: i64, single_use: bool) -> ElevatedAccessTokenClaims {
        ElevatedAccessTokenClaims {
            scope: scope.into(),
            exp,
            single_use: single_use.then_some(true),
            ..ElevatedAccessTokenClaims::default()
        }
    }

    fn scopes(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_token_is_found_by_its_scopes_and_only_for_its_session() {
        let tokens = ElevatedTokens::default();
        let granted = tokens.keep(1, "t-export".into(), &claims("wallet:export", 100, false));
        assert_eq!(granted.scopes, scopes(&["wallet:export"]));
        assert_eq!(
            tokens.take(1, &scopes(&["wallet:export"]), 50).as_deref(),
            Some("t-export")
        );
        assert_eq!(tokens.take(1, &scopes(&["wallet:sign"]), 50), None);
        assert_eq!(tokens.take(2, &scopes(&["wallet:export"]), 50), None);
        assert_eq!(
            tokens.take(1, &scopes(&["wallet:export"]), 50),
            None,
            "another session's lookup dropped it"
        );
    }

    #[test]
    fn a_broader_token_covers_a_narrower_request_and_an_exact_one_wins() {
        let tokens = ElevatedTokens::default();
        tokens.keep(7, "broad".into(), &claims("a b c", 100, false));
        assert_eq!(tokens.take(7, &scopes(&["b"]), 0).as_deref(), Some("broad"));
        tokens.keep(7, "exact".into(), &claims("b", 90, false));
        assert_eq!(tokens.take(7, &scopes(&["b"]), 0).as_deref(), Some("exact"));
        assert_eq!(
            tokens.take(7, &scopes(&["a c"]), 0).as_deref(),
            Some("broad"),
            "scopes may be given space-separated"
        );
    }

    #[test]
    fn expired_tokens_are_dropped_and_single_use_ones_are_handed_out_once() {
        let tokens = ElevatedTokens::default();
        tokens.keep(7, "once".into(), &claims("x", 100, true));
        tokens.keep(7, "short".into(), &claims("y", 10, false));
        assert_eq!(
            tokens.take(7, &scopes(&["y"]), 10),
            None,
            "exp is exclusive"
        );
        assert_eq!(tokens.take(7, &scopes(&["x"]), 0).as_deref(), Some("once"));
        assert_eq!(tokens.take(7, &scopes(&["x"]), 0), None);
    }

    #[test]
    fn the_same_scope_set_replaces_the_older_token_and_clear_forgets_all() {
        let tokens = ElevatedTokens::default();
        tokens.keep(7, "old".into(), &claims("x y", 100, false));
        tokens.keep(7, "new".into(), &claims("y x", 100, false));
        assert_eq!(
            tokens.take(7, &scopes(&["x", "y"]), 0).as_deref(),
            Some("new")
        );
        tokens.clear();
        assert_eq!(tokens.take(7, &scopes(&["x"]), 0), None);
    }

    #[test]
    fn asking_for_no_scope_finds_nothing() {
        let tokens = ElevatedTokens::default();
        tokens.keep(7, "once".into(), &claims("x", 100, true));
        assert_eq!(tokens.take(7, &[], 0), None);
        assert_eq!(tokens.take(7, &scopes(&[" "]), 0), None);
        assert!(tokens.take(7, &scopes(&["x"]), 0).is_some(), "not used up");
    }

    #[test]
    fn claims_are_read_and_checked_where_the_token_names_them() {
        let encode = |v: serde_json::Value| {
            let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
            format!("e30.{payload}.c2ln")
        };
        let minimal = encode(serde_json::json!({"scope": "pay", "exp": 100}));
        let read = read_claims(&minimal, "env", "u", 50).unwrap();
        assert_eq!((read.scope.as_str(), read.exp), ("pay", 100));
        let named = |env: &str, sub: &str| {
            encode(
                serde_json::json!({"scope": "pay", "exp": 100, "environment_id": env, "sub": sub}),
            )
        };
        assert!(read_claims(&named("env", "u"), "env", "u", 50).is_ok());
        assert!(read_claims(&named("other", "u"), "env", "u", 50).is_err());
        assert!(read_claims(&named("env", "v"), "env", "u", 50).is_err());
        assert!(read_claims(&minimal, "env", "u", 100).is_err(), "expired");
        let no_scope = encode(serde_json::json!({"exp": 100}));
        assert!(read_claims(&no_scope, "env", "u", 50).is_err());
        assert!(read_claims("not-a-jwt", "env", "u", 50).is_err());
    }

    #[test]
    fn params_never_print_the_assertion() {
        let params = VerifyWithExternalJwtParams {
            external_jwt: "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln".into(),
        };
        assert!(!format!("{params:?}").contains("eyJ"));
        assert!(!params.to_string().contains("eyJ"));
    }
}
