export {
  createDynamicClient,
  DynamicClient,
  AuthModule,
  ExternalAuthModule,
} from './client';
export {
  DynamicError,
  ERROR_CODES,
  ERROR_CODE_DESCRIPTIONS,
  toDynamicError,
} from './errors';
export type {
  DeviceSignatureReason,
  DynamicErrorCode,
  DynamicErrorDetails,
  ErrorCategory,
  NetworkErrorKind,
  RejectionReason,
} from './errors';
export { consoleLogger, setLogger } from './logging';
export type { Logger } from './logging';
export { NATIVE_MODULE_MISSING_MESSAGE } from './native';
export { useAuthState, useAuthenticatedUser } from './useAuthState';
export type {
  AuthEventName,
  AuthEventPayload,
  AuthEvents,
  AuthState,
  AuthStatus,
  CredentialFormat,
  DynamicClientOptions,
  ElevatedAccess,
  GetAccessTokenOptions,
  LogLevel,
  LogLine,
  Session,
  SignInWithExternalJwtParams,
  SignOutReason,
  StoreFailure,
  UserProfile,
  VerifiedCredential,
  VerifyWithExternalJwtParams,
} from './types';
