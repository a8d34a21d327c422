//! Header names of the SDK API (contract §1.2). Lowercase, as the JS client sends them.

pub const X_DYN_VERSION: &str = "x-dyn-version";
pub const X_DYN_API_VERSION: &str = "x-dyn-api-version";
pub const X_DYN_REQUEST_ID: &str = "x-dyn-request-id";
pub const X_DYN_SESSION_ID: &str = "x-dyn-session-id";
pub const X_DYN_SESSION_PUBLIC_KEY: &str = "x-dyn-session-public-key";
pub const X_DYN_LOGOUT_REASON: &str = "x-dyn-logout-reason";
pub const X_DYN_ELEVATED_ACCESS_TOKEN: &str = "x-dyn-elevated-access-token";
pub const X_DYNAMIC_DEVICE_NONCE: &str = "x-dynamic-device-nonce";
pub const X_DYNAMIC_DEVICE_PUBLICKEY: &str = "x-dynamic-device-publickey";
pub const X_DYNAMIC_DEVICE_SIGNED_NONCE: &str = "x-dynamic-device-signed-nonce";
pub const RETRY_AFTER: &str = "retry-after";

/// The sdk-api-core version whose models this contract follows (api-core 0.40.0), sent as
/// `x-dyn-api-version: API/<version>`.
pub const API_VERSION: &str = "API/0.40.0";

/// Length of the random alphanumeric `x-dyn-request-id` the JS client sends (50 chars).
pub const REQUEST_ID_LEN: usize = 50;
