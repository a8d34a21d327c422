//! A throw-away external identity provider (the customer's Auth0/Firebase/backend stand-in):
//! an ES256 key pair and a real HTTP JWKS endpoint on loopback, for demos and tests.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, EncodingKey, Header};
use p256::pkcs8::EncodePrivateKey;
use rand::rngs::OsRng;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::error::EmulatorError;
use crate::ids::random_hex;
use crate::tokens::unix_now;

/// Path of the issuer's JWKS, the conventional OIDC location.
const JWKS_PATH: &str = "/.well-known/jwks.json";

/// A running external issuer. Its HTTP server stops when this is dropped.
pub struct TestIssuer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

struct Shared {
    key: Mutex<IssuerKey>,
    jwks_requests: AtomicUsize,
    /// Seconds added to the real clock by `advance_time`.
    time_offset: std::sync::atomic::AtomicI64,
}

#[derive(Clone)]
struct IssuerKey {
    kid: String,
    encoding: EncodingKey,
    /// The public JWK as served (kid, alg ES256, use sig).
    public: Jwk,
}

impl IssuerKey {
    fn generate() -> Self {
        let secret = p256::SecretKey::random(&mut OsRng);
        let der = secret.to_pkcs8_der().expect("P-256 key encodes as PKCS#8");
        let encoding = EncodingKey::from_ec_der(der.as_bytes());
        let kid = random_hex(8);
        let mut public =
            Jwk::from_encoding_key(&encoding, Algorithm::ES256).expect("public JWK of a P-256 key");
        public.common.key_id = Some(kid.clone());
        public.common.public_key_use = Some(PublicKeyUse::Signature);
        Self {
            kid,
            encoding,
            public,
        }
    }
}

impl std::fmt::Debug for TestIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestIssuer")
            .field("issuer", &self.issuer())
            .field("kid", &self.kid())
            .finish_non_exhaustive()
    }
}

impl TestIssuer {
    /// Generates a key and serves `GET /.well-known/jwks.json` on `127.0.0.1:<free port>`.
    pub async fn start() -> Result<TestIssuer, EmulatorError> {
        let bind = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let listener = TcpListener::bind(bind)
            .await
            .map_err(|source| EmulatorError::Bind { addr: bind, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| EmulatorError::Bind { addr: bind, source })?;
        let shared = Arc::new(Shared {
            key: Mutex::new(IssuerKey::generate()),
            jwks_requests: AtomicUsize::new(0),
            time_offset: std::sync::atomic::AtomicI64::new(0),
        });
        let app = Router::new()
            .route(JWKS_PATH, get(serve_jwks))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            // Serving ends only when the task is aborted (on drop).
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            addr,
            shared,
            server,
        })
    }

    /// The `iss` its tokens carry, e.g. `http://127.0.0.1:PORT`.
    pub fn issuer(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn jwks_url(&self) -> String {
        format!("http://{}{JWKS_PATH}", self.addr)
    }

    /// Key id of the current signing key.
    pub fn kid(&self) -> String {
        self.current_key().kid
    }

    /// How many times the JWKS was fetched (to observe caching and refetching).
    pub fn jwks_request_count(&self) -> usize {
        self.shared.jwks_requests.load(Ordering::SeqCst)
    }

    /// Replaces the key pair; the JWKS then serves only the new key.
    pub fn rotate_key(&self) {
        *self.shared.key.lock().expect("issuer key lock") = IssuerKey::generate();
    }

    /// Moves the issuer's clock forward by `by` (for `claims_for`), in step with
    /// `Emulator::advance_time`.
    pub fn advance_time(&self, by: Duration) {
        self.shared
            .time_offset
            .fetch_add(by.as_secs() as i64, Ordering::SeqCst);
    }

    /// `{iss, sub, iat, exp}` for a token valid from now (on the issuer's clock) for `ttl`.
    pub fn claims_for(&self, sub: &str, ttl: Duration) -> Value {
        let now = unix_now() + self.shared.time_offset.load(Ordering::SeqCst);
        json!({"iss": self.issuer(), "sub": sub, "iat": now, "exp": now + ttl.as_secs() as i64})
    }

    /// An ES256 token over `claims` with header `{alg, typ: JWT, kid}`.
    pub fn mint(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid());
        self.mint_with_header(header, claims)
    }

    /// A token with a caller-chosen header (e.g. an unknown `kid`), signed with the current key.
    /// For an HMAC `alg` the "secret" is the issuer's public JWK JSON: the classic key-confusion
    /// attack a verifier must refuse.
    ///
    /// # Panics
    /// When `header.alg` is neither ES256 nor an HMAC algorithm (the key cannot sign it).
    pub fn mint_with_header(&self, header: Header, claims: &Value) -> String {
        let key = self.current_key();
        let encoding = if header.alg.family() == AlgorithmFamily::Hmac {
            let public = serde_json::to_vec(&key.public).expect("JWK serialises");
            EncodingKey::from_secret(&public)
        } else {
            key.encoding
        };
        jsonwebtoken::encode(&header, claims, &encoding)
            .unwrap_or_else(|e| panic!("TestIssuer cannot sign alg {:?}: {e}", header.alg))
    }

    /// An unsigned token (`alg: none`, empty signature), which must always be refused.
    pub fn mint_unsigned(&self, claims: &Value) -> String {
        let header = json!({"alg": "none", "typ": "JWT", "kid": self.kid()});
        format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    }

    fn current_key(&self) -> IssuerKey {
        self.shared.key.lock().expect("issuer key lock").clone()
    }
}

impl Drop for TestIssuer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn serve_jwks(State(shared): State<Arc<Shared>>) -> Json<JwkSet> {
    shared.jwks_requests.fetch_add(1, Ordering::SeqCst);
    let public = shared.key.lock().expect("issuer key lock").public.clone();
    Json(JwkSet { keys: vec![public] })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwks_cache::{JwksCache, http_client};
    use jsonwebtoken::{DecodingKey, Validation};

    #[tokio::test]
    async fn minted_tokens_verify_with_the_served_jwks() {
        let issuer = TestIssuer::start().await.unwrap();
        let token = issuer.mint(&issuer.claims_for("alice", Duration::from_secs(60)));
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::ES256);
        assert_eq!(header.typ.as_deref(), Some("JWT"));
        assert_eq!(header.kid, Some(issuer.kid()));

        let cache = JwksCache::new(http_client().unwrap());
        let jwk = cache
            .key_for(&issuer.jwks_url(), Some(&issuer.kid()))
            .await
            .unwrap();
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_issuer(&[issuer.issuer()]);
        let data = jsonwebtoken::decode::<Value>(
            &token,
            &DecodingKey::from_jwk(&jwk).unwrap(),
            &validation,
        )
        .unwrap();
        assert_eq!(data.claims["sub"], "alice");
        assert_eq!(issuer.jwks_request_count(), 1);
    }

    #[tokio::test]
    async fn rotation_serves_only_the_new_key() {
        let issuer = TestIssuer::start().await.unwrap();
        let old = issuer.kid();
        issuer.rotate_key();
        assert_ne!(issuer.kid(), old);
        let cache = JwksCache::new(http_client().unwrap());
        let keys = cache.keys(&issuer.jwks_url()).await.unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].common.key_id, Some(issuer.kid()));
    }

    #[tokio::test]
    async fn claims_for_are_issued_now_by_this_issuer() {
        let issuer = TestIssuer::start().await.unwrap();
        let claims = issuer.claims_for("bob", Duration::from_secs(300));
        assert_eq!(claims["iss"], issuer.issuer());
        assert_eq!(claims["sub"], "bob");
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            300
        );
    }

    #[tokio::test]
    async fn hmac_and_unsigned_tokens_can_be_minted_for_negative_tests() {
        let issuer = TestIssuer::start().await.unwrap();
        let claims = issuer.claims_for("eve", Duration::from_secs(60));
        let hs = issuer.mint_with_header(Header::new(Algorithm::HS256), &claims);
        assert_eq!(
            jsonwebtoken::decode_header(&hs).unwrap().alg,
            Algorithm::HS256
        );
        let none = issuer.mint_unsigned(&claims);
        assert!(none.ends_with('.'));
        assert_eq!(none.split('.').count(), 3);
    }
}
