// An example screen using the public API exactly as the README shows it; type-checked by
// `tsc --noEmit` (scripts/test-react-native.sh), not shipped.
import { useState } from 'react';
import { Button, Text, View } from 'react-native';
import {
  DynamicError,
  useAuthState,
  type UserProfile,
} from '@dynamic-byoa/react-native';
import { dynamicClient } from './dynamicClient';

/** Your auth provider (Auth0, Firebase, your backend) issues the JWT for Dynamic. */
declare function getJwtFromMyAuthProvider(): Promise<{
  jwt: string;
  userId: string;
}>;

const signIn = async (externalJwt: string, externalUserId: string) => {
  try {
    await dynamicClient.auth.external.signInWithExternalJwt({
      externalJwt,
      externalUserId,
    });
  } catch (e) {
    console.error('Dynamic sign-in failed:', e);
  }
};

function describeFailure(error: unknown): string {
  if (!(error instanceof DynamicError)) return 'Something went wrong';
  switch (error.category) {
    case 'invalid_input':
      return `Your sign-in token was refused on the device (${error.code})`;
    case 'rejected':
      return `Dynamic refused the token (${error.reason ?? 'unknown'})`;
    case 'retry_later':
      return error.code === 'rate_limited' && error.retryAfterSeconds != null
        ? `Too many attempts; try again in ${error.retryAfterSeconds} s`
        : 'Please try again in a moment';
    case 'network':
      return 'You appear to be offline';
    default:
      return `Sign-in failed (${error.code})`;
  }
}

function Profile({ user }: { user: UserProfile }) {
  return (
    <View>
      <Text>Signed in as {user.externalUserId ?? user.userId}</Text>
      <Button title="Sign out" onPress={() => dynamicClient.auth.logout()} />
    </View>
  );
}

export function SignInScreen() {
  const state = useAuthState(dynamicClient);
  const [failure, setFailure] = useState<string | null>(null);

  if (state.status === 'restoring') return <Text>Loading…</Text>;
  if (state.status === 'storageUnavailable') {
    return (
      <Button
        title="Unlock to continue"
        onPress={() => dynamicClient.auth.restore()}
      />
    );
  }
  if (state.status === 'signedIn') return <Profile user={state.session.user} />;

  const onPress = async () => {
    setFailure(null);
    const { jwt, userId } = await getJwtFromMyAuthProvider();
    try {
      await dynamicClient.auth.external.signInWithExternalJwt({
        externalJwt: jwt,
        externalUserId: userId,
      });
    } catch (error) {
      setFailure(describeFailure(error));
    }
  };

  return (
    <View>
      {state.reason === 'expired' && <Text>Your session expired.</Text>}
      {failure !== null && <Text>{failure}</Text>}
      <Button title="Sign in" onPress={onPress} />
      <Button
        title="Sign in (docs' snippet)"
        onPress={async () => {
          const { jwt, userId } = await getJwtFromMyAuthProvider();
          await signIn(jwt, userId);
        }}
      />
    </View>
  );
}
