// Generated from dynamic_byoa::ERROR_CODES by `byoa-rn-test-host --generated-ts`; do not edit.
// scripts/test-react-native.sh fails when this file and the Rust list differ
// (`bash scripts/test-react-native.sh --update` rewrites it).

export const RUST_ERROR_CODES = [
  'empty_jwt',
  'malformed_jwt',
  'jwt_not_json',
  'jwt_too_large',
  'unsupported_algorithm',
  'missing_claim',
  'invalid_claim',
  'jwt_expired',
  'jwt_not_yet_valid',
  'external_user_id_mismatch',
  'invalid_session_public_key',
  'external_auth_rejected',
  'rate_limited',
  'sandbox_limit_reached',
  'unauthorized',
  'environment_not_found',
  'request_rejected',
  'server_error',
  'device_signature_rejected',
  'device_nonce_unavailable',
  'session_key_mismatch',
  'key_unavailable',
  'sign_in_superseded',
  'sign_in_cancelled',
  'not_signed_in',
  'session_changed',
  'storage_unavailable',
  'network',
  'invalid_response',
  'invalid_configuration',
  'internal',
] as const;

/** Every `code` the Rust core can reject with, exactly. */
export type RustErrorCode = (typeof RUST_ERROR_CODES)[number];
