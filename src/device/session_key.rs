//! The session key a session is bound to: a plain record, shared by the device binding that
//! makes it and the session record that stores it.

use serde::{Deserialize, Serialize};

/// The session key a session is bound to. Stored with the session record, so that a restored
/// session refreshes with the same `x-dyn-session-public-key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SessionKey {
    /// The key's name in the signer; `None` when the app brought its own key
    /// (`SignInWithExternalJwtParams::session_public_key`), which the client never deletes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Compressed P-256, lowercase hex.
    pub public_key: String,
}
