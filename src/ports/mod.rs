//! The ports: the traits the app (or the platform layer) implements, with the types they pass
//! and the defaults that ship here, and `ClientDependencies`, the record that plugs them in.
//!
//! May import: `support`.

pub(crate) mod http;
pub(crate) mod key_signer;
pub(crate) mod provider;
pub(crate) mod storage;

use std::sync::Arc;

use http::HttpTransport;
use key_signer::KeySigner;
use provider::ExternalJwtProvider;
use storage::SessionStorage;

/// What the platform (or the app) plugs into a client. Every field is optional and defaults as
/// its documentation says; pass only what you have.
#[derive(Clone, Default, uniffi::Record)]
pub struct ClientDependencies {
    /// Where the session is kept and restored from: the platform's secure store. Default: memory
    /// only (nothing survives the process, and the client starts `SignedOut`). With a store the
    /// state starts as `Restoring` and settles in the background (await `auth().restore()`).
    #[uniffi(default)]
    pub storage: Option<Arc<dyn SessionStorage>>,
    /// This install's keys (Secure Enclave, Android Keystore, or `software_key_signer(storage)`):
    /// with one, each sign-in is bound to a new session key (unless
    /// `config.bind_session_key` is false) and sign-in and refresh carry a signature of a server
    /// nonce by the device key. Default: none (sessions are not device-bound).
    #[uniffi(default)]
    pub key_signer: Option<Arc<dyn KeySigner>>,
    /// Asked for a fresh external JWT when the session cannot be refreshed or has expired,
    /// including a session found expired by the first restore. Default: none (the session ends).
    #[uniffi(default)]
    pub jwt_provider: Option<Arc<dyn ExternalJwtProvider>>,
    /// The HTTP stack every request goes through (OkHttp, URLSession, the app's own). Default:
    /// the built-in reqwest stack, where the library was built with it (desktop, CLI, tests);
    /// the mobile build has none, and a client without a transport is refused.
    #[uniffi(default)]
    pub http_transport: Option<Arc<dyn HttpTransport>>,
}

impl std::fmt::Debug for ClientDependencies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientDependencies")
            .field("storage", &self.storage.is_some())
            .field("key_signer", &self.key_signer.is_some())
            .field("jwt_provider", &self.jwt_provider.is_some())
            .field("http_transport", &self.http_transport.is_some())
            .finish()
    }
}
