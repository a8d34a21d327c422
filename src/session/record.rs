//! The stored session record: what is kept per environment between launches, and how it is
//! encoded. The storage port it goes through is `crate::ports::storage`.

use dynamic_byoa_contract::SdkUser;
use serde::{Deserialize, Serialize};

use crate::device::SessionKey;
use crate::support::redact::scrub;

/// The storage key of an environment's session: `dynamic_<environmentId>_session`, the key
/// Dynamic's JavaScript client uses for its session (contract §5.2).
pub(crate) fn session_key(environment_id: &str) -> String {
    format!("dynamic_{environment_id}_session")
}

/// Version of [`StoredSession`]; bump it when the record changes incompatibly. A record of any
/// other version is reported and treated as absent.
pub(crate) const RECORD_VERSION: u32 = 1;

/// What is stored per environment: everything needed to be signed in again without the network.
/// camelCase like the API, so the record reads like the responses it came from.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StoredSession {
    pub version: u32,
    /// `minifiedJwt`, the bearer.
    pub token: String,
    /// `jwt`, the ID token.
    pub id_token: Option<String>,
    /// Unix seconds, on the server's clock.
    pub expires_at: i64,
    pub user: SdkUser,
    /// Server time minus device time when the record was written, in seconds.
    pub server_clock_offset_seconds: i64,
    /// Server time (unix seconds) when the session was received.
    pub received_at: i64,
    /// The session key the token is bound to: `{"name", "publicKey"}`. Absent when unbound
    /// (records written before binding existed decode unchanged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<SessionKey>,
}

/// Why a stored value could not be used.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RecordProblem {
    UnknownVersion(u32),
    Undecodable(String),
}

impl std::fmt::Display for RecordProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnknownVersion(v) => write!(f, "record version {v}, expected {RECORD_VERSION}"),
            Self::Undecodable(detail) => write!(f, "record does not decode: {detail}"),
        }
    }
}

impl StoredSession {
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("a stored session always serialises")
    }

    pub fn decode(text: &str) -> Result<Self, RecordProblem> {
        #[derive(Deserialize)]
        struct Versioned {
            version: u32,
        }
        let versioned: Versioned = serde_json::from_str(text)
            .map_err(|e| RecordProblem::Undecodable(scrub(&e.to_string())))?;
        if versioned.version != RECORD_VERSION {
            return Err(RecordProblem::UnknownVersion(versioned.version));
        }
        let record: Self = serde_json::from_str(text)
            .map_err(|e| RecordProblem::Undecodable(scrub(&e.to_string())))?;
        record.check_ranges()?;
        Ok(record)
    }

    /// Times from storage are not trusted to be sane: values far outside any real session would
    /// overflow the arithmetic on them.
    fn check_ranges(&self) -> Result<(), RecordProblem> {
        const YEAR_9999: i64 = 253_402_300_799;
        const TEN_YEARS: i64 = 10 * 366 * 24 * 3600;
        let sane = (0..=YEAR_9999).contains(&self.expires_at)
            && (0..=YEAR_9999).contains(&self.received_at)
            && (-TEN_YEARS..=TEN_YEARS).contains(&self.server_clock_offset_seconds);
        if sane {
            Ok(())
        } else {
            Err(RecordProblem::Undecodable("a time is out of range".into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_key_follows_the_contract_convention() {
        assert_eq!(session_key("abc"), "dynamic_abc_session");
    }

    #[test]
    fn records_of_another_version_or_shape_are_problems_not_panics() {
        assert_eq!(
            StoredSession::decode(r#"{"version": 99}"#).err(),
            Some(RecordProblem::UnknownVersion(99))
        );
        assert!(matches!(
            StoredSession::decode("not json"),
            Err(RecordProblem::Undecodable(_))
        ));
        assert!(matches!(
            StoredSession::decode(r#"{"version": 1, "token": 5}"#),
            Err(RecordProblem::Undecodable(_))
        ));
        let overflowing = r#"{"version": 1, "token": "t", "expiresAt": 9223372036854775807,
            "user": {"id": "u", "projectEnvironmentId": "e", "verifiedCredentials": []},
            "serverClockOffsetSeconds": 0, "receivedAt": 0}"#;
        assert!(matches!(
            StoredSession::decode(overflowing),
            Err(RecordProblem::Undecodable(_))
        ));
    }
}
