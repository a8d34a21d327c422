//! Checks Dynamic's session token against the environment's published keys before the client
//! keeps it (`GET {base}/sdk/{env}/.well-known/jwks`, contract §4.6).
//!
//! Why check a token that just arrived over TLS from Dynamic? Because the check costs nothing
//! on the critical path (the keys are fetched in parallel with the exchange, then cached) and it
//! catches what TLS cannot: a misconfigured base URL or proxy answering with a token for another
//! environment, another user, or one that was altered. The token is RS256 (contract §4.6); the
//! signature is verified with ring. In the default build the TLS stack links ring anyway; in the
//! mobile build (no TLS stack) ring was measured against RustCrypto's pure-Rust `rsa` 0.9: the
//! stripped library is the same size either way (1,661,336 vs 1,661,736 bytes), but one
//! verification takes 29 µs with ring and 682 µs with `rsa` at the size-optimised `opt-level =
//! "z"`, on the sign-in's critical path.
//!
//! When the keys cannot be fetched, the sign-in fails with the fetch's error (network or server
//! error) and the session is not kept: "checked before stored" has no exceptions. The failure is
//! retryable like any network failure; the server-side session that was minted is revoked.

use std::sync::Mutex;

use base64::Engine as _;
use dynamic_byoa_contract::{JwksKey, JwksResponse, paths};
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use serde::Deserialize;

use crate::error::Error;
use crate::jwt::preflight::BASE64URL;
use crate::network::Transport;
use crate::support::single_flight::SingleFlight;

/// The environment's keys, fetched at most once at a time and kept for the client's lifetime.
/// A token signed by a key not in the cache triggers one refetch (key rotation).
#[derive(Default)]
pub(crate) struct SessionKeys {
    cached: Mutex<Option<std::sync::Arc<JwksResponse>>>,
    fetch: SingleFlight<(), Result<Fetched, Error>>,
}

/// A fetched key set and the server's clock offset measured by that response.
type Fetched = (std::sync::Arc<JwksResponse>, Option<i64>);

/// The claims of the session token this client checks.
#[derive(Deserialize)]
struct CheckedClaims {
    sub: String,
    environment_id: String,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
}

impl SessionKeys {
    /// Fetches the keys unless they are cached. Called in parallel with the exchange.
    pub async fn prefetch(&self, transport: &Transport) -> Result<(), Error> {
        if self.cached().is_none() {
            self.refetch(transport).await?;
        }
        Ok(())
    }

    /// Fetches the keys now and returns the server's clock offset (`Reply::server_offset`): the
    /// cheapest request that tells the device what time the server thinks it is (and the keys
    /// are needed anyway).
    pub async fn fetch_server_offset(&self, transport: &Transport) -> Result<Option<i64>, Error> {
        Ok(self.fetch(transport).await?.1)
    }

    /// Verifies `token`: RS256 under a published key, for `environment_id` and `user_id`.
    pub async fn verify(
        &self,
        transport: &Transport,
        token: &str,
        environment_id: &str,
        user_id: &str,
    ) -> Result<(), Error> {
        let parts = TokenParts::split(token)?;
        let mut keys = match self.cached() {
            Some(keys) => keys,
            None => self.refetch(transport).await?,
        };
        if find_key(&keys, parts.header.kid.as_deref()).is_none() {
            keys = self.refetch(transport).await?;
        }
        check_token(&keys, &parts, environment_id, user_id)
    }

    fn cached(&self) -> Option<std::sync::Arc<JwksResponse>> {
        self.cached
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    async fn refetch(&self, transport: &Transport) -> Result<std::sync::Arc<JwksResponse>, Error> {
        Ok(self.fetch(transport).await?.0)
    }

    async fn fetch(&self, transport: &Transport) -> Result<Fetched, Error> {
        self.fetch
            .run((), || async {
                let reply = transport.get_json::<JwksResponse>(paths::JWKS).await?;
                let keys = std::sync::Arc::new(reply.body);
                *self.cached.lock().unwrap_or_else(|p| p.into_inner()) = Some(keys.clone());
                Ok((keys, reply.server_offset))
            })
            .await
    }
}

fn invalid(detail: &'static str) -> Error {
    Error::Incomplete {
        status: 200,
        detail,
    }
}

fn find_key<'a>(keys: &'a JwksResponse, kid: Option<&str>) -> Option<&'a JwksKey> {
    let usable = |k: &&JwksKey| {
        k.kty.as_deref().is_none_or(|kty| kty == "RSA")
            && k.alg.as_deref().is_none_or(|alg| alg == "RS256")
            && k.use_.as_deref().is_none_or(|u| u == "sig")
    };
    match kid {
        Some(kid) => keys
            .keys
            .iter()
            .filter(usable)
            .find(|k| k.kid.as_deref() == Some(kid)),
        // Without a `kid` only an unambiguous key set will do.
        None => {
            let mut candidates = keys.keys.iter().filter(usable);
            match (candidates.next(), candidates.next()) {
                (Some(only), None) => Some(only),
                _ => None,
            }
        }
    }
}

/// The checks of [`SessionKeys::verify`] once the keys are at hand: signature, environment, user.
fn check_token(
    keys: &JwksResponse,
    parts: &TokenParts<'_>,
    environment_id: &str,
    user_id: &str,
) -> Result<(), Error> {
    let key = find_key(keys, parts.header.kid.as_deref())
        .ok_or_else(|| invalid("the session token's key is not among the environment's keys"))?;
    parts.verify_signature(key)?;
    let claims: CheckedClaims = serde_json::from_slice(&parts.payload)
        .map_err(|_| invalid("the session token's claims do not decode"))?;
    if claims.environment_id != environment_id {
        return Err(invalid("the session token is for another environment"));
    }
    if claims.sub != user_id {
        return Err(invalid("the session token is for another user"));
    }
    Ok(())
}

/// Fuzzing: the session token check against a key set from any bytes.
pub(crate) fn check_token_text(
    keys: &JwksResponse,
    token: &str,
    environment_id: &str,
    user_id: &str,
) -> Result<(), Error> {
    check_token(keys, &TokenParts::split(token)?, environment_id, user_id)
}

struct TokenParts<'a> {
    signed: &'a str,
    header: Header,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

impl<'a> TokenParts<'a> {
    fn split(token: &'a str) -> Result<Self, Error> {
        let malformed = || invalid("the session token is not a JWT");
        let (signed, signature) = token.rsplit_once('.').ok_or_else(malformed)?;
        let (header, payload) = signed.split_once('.').ok_or_else(malformed)?;
        let header: Header = BASE64URL
            .decode(header)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(malformed)?;
        if header.alg != "RS256" {
            return Err(invalid("the session token is not RS256"));
        }
        Ok(Self {
            signed,
            header,
            payload: BASE64URL.decode(payload).map_err(|_| malformed())?,
            signature: BASE64URL.decode(signature).map_err(|_| malformed())?,
        })
    }

    fn verify_signature(&self, key: &JwksKey) -> Result<(), Error> {
        let component = |value: &Option<String>| {
            value
                .as_deref()
                .and_then(|v| BASE64URL.decode(v).ok())
                .ok_or_else(|| invalid("an environment key is not a usable RSA key"))
        };
        let public = RsaPublicKeyComponents {
            n: component(&key.n)?,
            e: component(&key.e)?,
        };
        public
            .verify(
                &RSA_PKCS1_2048_8192_SHA256,
                self.signed.as_bytes(),
                &self.signature,
            )
            .map_err(|_| invalid("the session token's signature does not verify"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(entries: &[(&str, Option<&str>)]) -> JwksResponse {
        JwksResponse {
            keys: entries
                .iter()
                .map(|(kid, alg)| JwksKey {
                    kid: Some((*kid).into()),
                    alg: alg.map(Into::into),
                    kty: Some("RSA".into()),
                    ..JwksKey::default()
                })
                .collect(),
        }
    }

    #[test]
    fn a_key_is_found_by_kid_and_only_among_rs256_signing_keys() {
        let set = keys(&[("a", Some("RS256")), ("b", Some("ES256"))]);
        assert!(find_key(&set, Some("a")).is_some());
        assert!(find_key(&set, Some("b")).is_none(), "not an RS256 key");
        assert!(find_key(&set, Some("c")).is_none());
        assert!(
            find_key(&set, None).is_some(),
            "one usable key: unambiguous"
        );
        let two = keys(&[("a", None), ("b", None)]);
        assert!(
            find_key(&two, None).is_none(),
            "two keys and no kid: ambiguous"
        );
    }

    #[test]
    fn only_rs256_tokens_are_accepted() {
        let header = BASE64URL.encode(r#"{"alg":"HS256"}"#);
        let token = format!("{header}.e30.c2ln");
        assert!(TokenParts::split(&token).is_err());
        assert!(TokenParts::split("no-dots").is_err());
    }
}
