//! JWT work: the on-device preflight of the external JWT, the sign-in exchange's request, the
//! step-up assertion and elevated-token claims, and the check of Dynamic's session token against
//! the environment's published keys.
//!
//! May import: `config`, `error`, `network` (the key set's fetch), `ports`, `support`.

pub(crate) mod exchange;
pub(crate) mod jwks;
pub mod preflight;
pub(crate) mod step_up;
