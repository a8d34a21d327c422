//! Dynamic's SDK API wire contract, defined once and shared by the client library and the emulator.
//!
//! Everything here follows `docs/contract.md` exactly, JSON casing included:
//! camelCase for `VerifyResponse`/`SdkUser`, mixed case for `JwtVerifiedCredential`, snake_case for
//! JWT claims. Unknown fields are ignored when decoding (serde's default), because the server adds
//! fields over time and a client must not break on them.

pub mod claims;
pub mod device;
pub mod errors;
pub mod headers;
pub mod paths;
pub mod rejection;
pub mod types;

pub use claims::*;
pub use device::{CODE_INVALID_DEVICE_SIGNATURE, DeviceSignatureRejection};
pub use errors::*;
pub use rejection::ExternalAuthRejection;
pub use types::*;
