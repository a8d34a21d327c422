//! Device binding (contract §1.1 `sessionPublicKey`, §4.7 `session_public_key`, §4.10 nonces
//! and device-signature headers, §5.6 session keys).
//!
//! The contract documents the headers and their format, not the server's refusals: whether and
//! how Dynamic rejects a bad device signature is not public (§4.10 [I]). The safe reading taken
//! here, shared by the emulator and the client: a 422 `UnprocessableEntity` body
//! `{error, code: "invalid_device_signature"}` whose `error` text names the problem, classified
//! like `invalid_external_auth` texts are. 422 rather than 401 because a 401 on `refresh` means
//! "the session is gone" (§4.1), and a stale nonce must never sign a user out.

/// `code` of a refused device signature (inferred, see the module documentation).
pub const CODE_INVALID_DEVICE_SIGNATURE: &str = "invalid_device_signature";

/// Nonces the JavaScript client keeps in its pool (§4.10), and asks for at once.
pub const NONCE_POOL_SIZE: usize = 5;
/// How long the JavaScript client keeps a pooled nonce: 24 hours (§4.10).
pub const NONCE_POOL_LIFETIME_SECONDS: i64 = 24 * 60 * 60;

/// Why a device signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceSignatureRejection {
    /// One or more of the three headers is absent (or empty) where they are required.
    MissingHeaders,
    /// The nonce was never issued by this environment.
    UnknownNonce,
    /// The nonce was already used: each is good for one request.
    ReusedNonce,
    /// The nonce outlived its expiry.
    ExpiredNonce,
    /// `x-dynamic-device-publickey` is not a compressed P-256 point in hex.
    InvalidPublicKey,
    /// The signature is not 64 bytes of hex, or does not verify under the given public key.
    InvalidSignature,
    /// The signature verifies, but under another device key than the session was signed in with.
    KeyMismatch,
}

impl DeviceSignatureRejection {
    /// The `error` text the emulator sends; each names its concept so that
    /// [`DeviceSignatureRejection::classify`] recovers it.
    pub fn message(self) -> &'static str {
        match self {
            Self::MissingHeaders => "Device signature headers are missing",
            Self::UnknownNonce => "Device nonce is unknown",
            Self::ReusedNonce => "Device nonce was already used",
            Self::ExpiredNonce => "Device nonce has expired",
            Self::InvalidPublicKey => "Device public key is not a compressed P-256 key",
            Self::InvalidSignature => "Device signature does not verify",
            Self::KeyMismatch => "Device key does not match the session's device",
        }
    }

    /// Best-effort reading of a server text; `None` when nothing recognisable is named.
    pub fn classify(message: &str) -> Option<Self> {
        let text = message.to_ascii_lowercase();
        let has = |needle: &str| text.contains(needle);
        let reason = if has("missing") || has("required") {
            Self::MissingHeaders
        } else if has("nonce") && (has("already") || has("reuse") || has("used")) {
            Self::ReusedNonce
        } else if has("nonce") && has("expired") {
            Self::ExpiredNonce
        } else if has("nonce") && (has("unknown") || has("not found") || has("invalid")) {
            Self::UnknownNonce
        } else if has("match") {
            Self::KeyMismatch
        } else if has("public key") || has("publickey") {
            Self::InvalidPublicKey
        } else if has("signature") {
            Self::InvalidSignature
        } else {
            return None;
        };
        Some(reason)
    }

    /// True for the nonce problems a fresh nonce cures.
    pub fn is_nonce_problem(self) -> bool {
        matches!(
            self,
            Self::UnknownNonce | Self::ReusedNonce | Self::ExpiredNonce
        )
    }

    pub const ALL: [Self; 7] = [
        Self::MissingHeaders,
        Self::UnknownNonce,
        Self::ReusedNonce,
        Self::ExpiredNonce,
        Self::InvalidPublicKey,
        Self::InvalidSignature,
        Self::KeyMismatch,
    ];
}

/// Decodes lowercase or uppercase hex; `None` on odd length or a non-hex character (signs such
/// as "+f" included).
pub fn decode_hex(text: &str) -> Option<Vec<u8>> {
    base16ct::mixed::decode_vec(text).ok()
}

/// Lowercase hex, the form every key and signature takes on the wire (§1.1, §4.10).
pub fn encode_hex(bytes: &[u8]) -> String {
    base16ct::lower::encode_string(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_digits_only_without_signs() {
        assert_eq!(decode_hex("0aFf"), Some(vec![0x0a, 0xff]));
        assert_eq!(decode_hex("+f"), None);
        assert_eq!(decode_hex("abc"), None);
        assert_eq!(decode_hex("zz"), None);
        assert_eq!(encode_hex(&[0x0a, 0xff]), "0aff");
    }

    #[test]
    fn every_emulator_message_classifies_back_to_its_reason() {
        for reason in DeviceSignatureRejection::ALL {
            assert_eq!(
                DeviceSignatureRejection::classify(reason.message()),
                Some(reason),
                "{}",
                reason.message()
            );
        }
        assert_eq!(DeviceSignatureRejection::classify("no idea"), None);
    }

    #[test]
    fn hex_round_trips_and_refuses_junk() {
        let bytes = [0x00, 0x0f, 0xa0, 0xff];
        assert_eq!(encode_hex(&bytes), "000fa0ff");
        assert_eq!(decode_hex("000FA0ff").unwrap(), bytes);
        assert!(decode_hex("abc").is_none());
        assert!(decode_hex("zz").is_none());
        assert!(decode_hex("é1").is_none());
    }
}
