//! The stored session record: what is kept per environment between launches, how it is encoded,
//! and how the records of earlier versions are read. The storage port it goes through is
//! `crate::ports::storage`.
//!
//! Versions (each pinned by a golden file, `tests/golden/session-record-v<N>.json`):
//! - 1: untagged (`version` only), with the user as Dynamic sent it (the wire `SdkUser`);
//! - 2: tagged with `schema`, with the user as this library shows it ([`StoredUser`]), so that
//!   a change of the wire types cannot change what is stored.
//!
//! Reading version N-1 upgrades the record (the client writes the upgrade back). A record of a
//! newer version (written by a newer app, before a downgrade) is reported, never deleted nor
//! read as absent: `RecordProblem::Newer`.
//!
//! May import (as part of `session`): `device`, `error`, `ports`, `support`.

use dynamic_byoa_contract::SdkUser;
use serde::{Deserialize, Serialize};

use crate::device::SessionKey;
use crate::session::{CredentialFormat, UserProfile, VerifiedCredential};
use crate::support::redact::scrub;

/// The storage key of an environment's session: `dynamic_<environmentId>_session`, the key
/// Dynamic's JavaScript client uses for its session (contract §5.2).
pub(crate) fn session_key(environment_id: &str) -> String {
    format!("dynamic_{environment_id}_session")
}

/// What every record since version 2 says it is: a record of another schema is not ours.
pub(crate) const RECORD_SCHEMA: &str = "dynamic-byoa.session";
/// Version of [`StoredSession`]; bump it (and add an upgrade from the previous one, and its
/// golden file) when the record changes.
pub(crate) const RECORD_VERSION: u32 = 2;

/// What is stored per environment: everything needed to be signed in again without the network.
/// camelCase like the API, so the record reads like the responses it came from. No `Debug`: it
/// holds the tokens.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StoredSession {
    pub schema: String,
    pub version: u32,
    /// `minifiedJwt`, the bearer.
    pub token: String,
    /// `jwt`, the ID token.
    pub id_token: Option<String>,
    /// Unix seconds, on the server's clock.
    pub expires_at: i64,
    pub user: StoredUser,
    /// Server time minus device time when the record was written, in seconds.
    pub server_clock_offset_seconds: i64,
    /// Server time (unix seconds) when the session was received.
    pub received_at: i64,
    /// The session key the token is bound to: `{"name", "publicKey"}`. Absent when unbound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<SessionKey>,
}

/// The user as the record keeps it: the [`UserProfile`] the app was shown, field for field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StoredUser {
    pub user_id: String,
    pub environment_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    pub new_user: bool,
    pub scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_verified_credential_id: Option<String>,
    pub verified_credentials: Vec<StoredCredential>,
}

/// One verified credential as the record keeps it; `format` is Dynamic's string, so a format
/// this library does not know survives the round trip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StoredCredential {
    pub id: String,
    pub format: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
    pub sign_in_enabled: bool,
}

impl From<&UserProfile> for StoredUser {
    fn from(user: &UserProfile) -> Self {
        Self {
            user_id: user.user_id.clone(),
            environment_id: user.environment_id.clone(),
            session_id: user.session_id.clone(),
            external_user_id: user.external_user_id.clone(),
            email: user.email.clone(),
            username: user.username.clone(),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            phone_number: user.phone_number.clone(),
            new_user: user.new_user,
            scopes: user.scopes.clone(),
            last_verified_credential_id: user.last_verified_credential_id.clone(),
            verified_credentials: user.verified_credentials.iter().map(Into::into).collect(),
        }
    }
}

impl From<StoredUser> for UserProfile {
    fn from(user: StoredUser) -> Self {
        Self {
            user_id: user.user_id,
            environment_id: user.environment_id,
            session_id: user.session_id,
            external_user_id: user.external_user_id,
            email: user.email,
            username: user.username,
            first_name: user.first_name,
            last_name: user.last_name,
            phone_number: user.phone_number,
            new_user: user.new_user,
            scopes: user.scopes,
            last_verified_credential_id: user.last_verified_credential_id,
            verified_credentials: user
                .verified_credentials
                .into_iter()
                .map(Into::into)
                .collect(),
        }
    }
}

impl From<&VerifiedCredential> for StoredCredential {
    fn from(credential: &VerifiedCredential) -> Self {
        Self {
            id: credential.id.clone(),
            format: credential.format.wire_value().to_owned(),
            public_identifier: credential.public_identifier.clone(),
            email: credential.email.clone(),
            address: credential.address.clone(),
            chain: credential.chain.clone(),
            sign_in_enabled: credential.sign_in_enabled,
        }
    }
}

impl From<StoredCredential> for VerifiedCredential {
    fn from(credential: StoredCredential) -> Self {
        Self {
            id: credential.id,
            format: CredentialFormat::from(credential.format.as_str()),
            public_identifier: credential.public_identifier,
            email: credential.email,
            address: credential.address,
            chain: credential.chain,
            sign_in_enabled: credential.sign_in_enabled,
        }
    }
}

/// Version 1, as it was written: read only, to upgrade it.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredSessionV1 {
    version: u32,
    token: String,
    id_token: Option<String>,
    expires_at: i64,
    user: SdkUser,
    server_clock_offset_seconds: i64,
    received_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    session_key: Option<SessionKey>,
}

impl From<StoredSessionV1> for StoredSession {
    /// The user becomes what the app was shown of it (`UserProfile::from(&SdkUser)`), which is
    /// what version 2 stores; wire fields the profile never showed are dropped.
    fn from(v1: StoredSessionV1) -> Self {
        Self {
            schema: RECORD_SCHEMA.to_owned(),
            version: RECORD_VERSION,
            token: v1.token,
            id_token: v1.id_token,
            expires_at: v1.expires_at,
            user: StoredUser::from(&UserProfile::from(&v1.user)),
            server_clock_offset_seconds: v1.server_clock_offset_seconds,
            received_at: v1.received_at,
            session_key: v1.session_key,
        }
    }
}

/// Why a stored value could not be used.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RecordProblem {
    /// Written by a newer version of the library (an app downgrade): kept for it, not read.
    Newer(u32),
    /// Not a record this library ever wrote (another schema, an unknown old version, a broken
    /// value).
    Undecodable(String),
}

impl std::fmt::Display for RecordProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Newer(v) => write!(
                f,
                "the stored session has record version {v}, newer than this library reads \
                 ({RECORD_VERSION}): it was written by a newer app version and is kept"
            ),
            Self::Undecodable(detail) => write!(f, "record does not decode: {detail}"),
        }
    }
}

/// A decoded record, and the version it was upgraded from when it was older than the current.
pub(crate) struct Decoded {
    pub record: StoredSession,
    pub upgraded_from: Option<u32>,
}

/// The fields that say what a record is, read before the rest.
#[derive(Deserialize)]
struct Header {
    #[serde(default)]
    schema: Option<String>,
    version: u32,
}

impl StoredSession {
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("a stored session always serialises")
    }

    pub fn decode(text: &str) -> Result<Decoded, RecordProblem> {
        let header: Header = parse(text)?;
        let (record, upgraded_from) = match (header.schema.as_deref(), header.version) {
            // Version 1 had no schema tag.
            (None, 1) => (parse::<StoredSessionV1>(text)?.into(), Some(1)),
            (Some(RECORD_SCHEMA), RECORD_VERSION) => (parse::<Self>(text)?, None),
            (Some(RECORD_SCHEMA), version) if version > RECORD_VERSION => {
                return Err(RecordProblem::Newer(version));
            }
            (schema, version) => {
                return Err(RecordProblem::Undecodable(format!(
                    "schema {:?}, version {version}",
                    schema.map(scrub)
                )));
            }
        };
        record.check_ranges()?;
        Ok(Decoded {
            record,
            upgraded_from,
        })
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

/// serde's error quotes offending values: a token in the wrong field must not be logged.
fn parse<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, RecordProblem> {
    serde_json::from_str(text).map_err(|e| RecordProblem::Undecodable(scrub(&e.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOLDEN_V1: &str = include_str!("../../tests/golden/session-record-v1.json");
    const GOLDEN_V2: &str = include_str!("../../tests/golden/session-record-v2.json");

    #[test]
    fn the_version_1_golden_is_what_version_1_wrote() {
        let v1: StoredSessionV1 = serde_json::from_str(GOLDEN_V1).unwrap();
        assert_eq!(serde_json::to_string(&v1).unwrap(), GOLDEN_V1.trim_end());
    }

    #[test]
    fn a_version_1_record_upgrades_to_the_version_2_golden() {
        let decoded = StoredSession::decode(GOLDEN_V1).unwrap();
        assert_eq!(decoded.upgraded_from, Some(1));
        assert_eq!(decoded.record.encode(), GOLDEN_V2.trim_end());
    }

    #[test]
    fn the_version_2_golden_is_what_this_version_writes() {
        let decoded = StoredSession::decode(GOLDEN_V2).unwrap();
        assert_eq!(decoded.upgraded_from, None);
        assert_eq!(decoded.record.encode(), GOLDEN_V2.trim_end());
    }

    #[test]
    fn a_newer_version_is_its_own_problem_and_another_schema_is_not_ours() {
        let newer = GOLDEN_V2.replace(r#""version":2"#, r#""version":3"#);
        assert_eq!(
            StoredSession::decode(&newer).err(),
            Some(RecordProblem::Newer(3))
        );
        let foreign = GOLDEN_V2.replace("dynamic-byoa.session", "something.else");
        assert!(matches!(
            StoredSession::decode(&foreign),
            Err(RecordProblem::Undecodable(_))
        ));
        // Version 2 and later always carry the tag: an untagged 2 was never written.
        let untagged = GOLDEN_V2.replace(r#""schema":"dynamic-byoa.session","#, "");
        assert!(matches!(
            StoredSession::decode(&untagged),
            Err(RecordProblem::Undecodable(_))
        ));
    }

    #[test]
    fn the_session_key_follows_the_contract_convention() {
        assert_eq!(session_key("abc"), "dynamic_abc_session");
    }

    #[test]
    fn records_of_another_version_or_shape_are_problems_not_panics() {
        assert!(matches!(
            StoredSession::decode(r#"{"version": 99}"#),
            Err(RecordProblem::Undecodable(_))
        ));
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
