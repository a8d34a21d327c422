import { useSyncExternalStore } from 'react';
import type { DynamicClient } from './client';
import type { AuthState, UserProfile } from './types';

/**
 * The client's auth state, re-rendering on every change (`useSyncExternalStore`).
 *
 * ```tsx
 * const state = useAuthState(dynamicClient);
 * if (state.status === 'signedIn') return <Home user={state.session.user} />;
 * ```
 */
export function useAuthState(client: DynamicClient): AuthState {
  return useSyncExternalStore(
    (onChange) => client.auth.subscribeState(onChange),
    () => client.auth.state,
    () => client.auth.state
  );
}

/** The signed-in user, or null; re-renders when it changes. */
export function useAuthenticatedUser(
  client: DynamicClient
): UserProfile | null {
  const state = useAuthState(client);
  return state.status === 'signedIn' ? state.session.user : null;
}
