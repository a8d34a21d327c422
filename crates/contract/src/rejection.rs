//! Why an external JWT was rejected (422 `invalid_external_auth`).
//!
//! Dynamic sends the reason only as free text in `error` (contract §3.3 [I]; the one reported
//! string is "Audience (aud) does not match"). The emulator sends the messages below, and the
//! client classifies any message, the emulator's or Dynamic's, by the claim or concept it names.

/// A reason an external JWT is refused, as the emulator (and presumably Dynamic) reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExternalAuthRejection {
    Issuer,
    Audience,
    Expired,
    NotYetValid,
    Signature,
    UnknownKey,
    JwksUnavailable,
    MissingClaim,
    UnsupportedAlgorithm,
    Malformed,
    Disabled,
    /// Step-up only: the assertion's `jti` was used before.
    Replayed,
    /// Step-up only: the assertion's `sub` is not the signed-in session's external user.
    SubjectMismatch,
}

impl ExternalAuthRejection {
    /// The `error` text the emulator sends. Every message names its claim or concept so that
    /// [`ExternalAuthRejection::classify`] recovers the reason.
    pub fn message(self) -> &'static str {
        match self {
            Self::Issuer => "Issuer (iss) does not match",
            Self::Audience => "Audience (aud) does not match",
            Self::Expired => "JWT has expired (exp)",
            Self::NotYetValid => "JWT is not yet valid (nbf)",
            Self::Signature => "JWT signature is invalid",
            Self::UnknownKey => "No key in the JWKS matches the JWT key id (kid)",
            Self::JwksUnavailable => "Unable to fetch the JWKS from the configured jwksUrl",
            Self::MissingClaim => "JWT is missing a required claim",
            Self::UnsupportedAlgorithm => "JWT algorithm (alg) is not supported",
            Self::Malformed => "JWT is malformed",
            Self::Disabled => "External auth is not enabled for this environment",
            Self::Replayed => "JWT id (jti) has already been used",
            Self::SubjectMismatch => "Subject (sub) is not the session's external user",
        }
    }

    /// Best-effort reading of a server message. `None` when nothing recognisable is named; the
    /// caller still has the full text.
    pub fn classify(message: &str) -> Option<Self> {
        let text = message.to_ascii_lowercase();
        let has = |needle: &str| text.contains(needle);
        // Order matters: more specific concepts first ("kid ... jwks" is an unknown key, not an
        // unreachable JWKS; "not yet valid" is not a signature problem).
        let reason = if has("(jti)") || has("already been used") || has("replay") {
            Self::Replayed
        } else if has("(sub)") {
            Self::SubjectMismatch
        } else if has("(alg)") || has("algorithm") {
            Self::UnsupportedAlgorithm
        } else if has("(kid)") || has("key id") || has("no matching key") {
            Self::UnknownKey
        } else if has("jwks") {
            Self::JwksUnavailable
        } else if has("(aud)") || has("audience") {
            Self::Audience
        } else if has("(iss)") || has("issuer") {
            Self::Issuer
        } else if has("not yet valid") || has("(nbf)") || has("before") {
            Self::NotYetValid
        } else if has("expired") || has("(exp)") {
            Self::Expired
        } else if has("signature") {
            Self::Signature
        } else if has("missing") || has("required claim") {
            Self::MissingClaim
        } else if has("not enabled") || has("disabled") {
            Self::Disabled
        } else if has("malformed") || has("decode") {
            Self::Malformed
        } else {
            return None;
        };
        Some(reason)
    }

    pub const ALL: [Self; 13] = [
        Self::Issuer,
        Self::Audience,
        Self::Expired,
        Self::NotYetValid,
        Self::Signature,
        Self::UnknownKey,
        Self::JwksUnavailable,
        Self::MissingClaim,
        Self::UnsupportedAlgorithm,
        Self::Malformed,
        Self::Disabled,
        Self::Replayed,
        Self::SubjectMismatch,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_emulator_message_classifies_back_to_its_reason() {
        for reason in ExternalAuthRejection::ALL {
            assert_eq!(
                ExternalAuthRejection::classify(reason.message()),
                Some(reason),
                "{}",
                reason.message()
            );
        }
    }

    #[test]
    fn the_reported_dynamic_message_reads_as_audience() {
        assert_eq!(
            ExternalAuthRejection::classify("Audience (aud) does not match"),
            Some(ExternalAuthRejection::Audience)
        );
        assert_eq!(
            ExternalAuthRejection::classify("something else entirely"),
            None
        );
    }
}
