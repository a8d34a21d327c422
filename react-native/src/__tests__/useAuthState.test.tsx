import { beforeEach, expect, it, jest } from '@jest/globals';
import { act, create, type ReactTestRenderer } from 'react-test-renderer';
import { Text } from 'react-native';
import { emitState, resetFake, stateJson } from './fakeNative';
import {
  createDynamicClient,
  useAuthState,
  useAuthenticatedUser,
} from '../index';
import type { DynamicClient } from '../index';

jest.mock('../NativeDynamicByoa', () => ({
  __esModule: true,
  MODULE_NAME: 'DynamicByoa',
  default: require('./fakeNative').fakeNative,
}));

// React 19's act() needs this flag outside a testing library.
(
  globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }
).IS_REACT_ACT_ENVIRONMENT = true;

function Status({
  client,
  renders,
}: {
  client: DynamicClient;
  renders: string[];
}) {
  const state = useAuthState(client);
  const user = useAuthenticatedUser(client);
  const text = `${state.status}:${user?.externalUserId ?? '-'}`;
  renders.push(text);
  return <Text>{text}</Text>;
}

beforeEach(() => {
  resetFake();
});

it('re-renders on every state change and stops when unmounted', async () => {
  const client = createDynamicClient({
    environmentId: '2762a57b-faa4-41ce-9f16-abff9300e2c9',
  });
  await client.ready;
  const renders: string[] = [];
  let renderer: ReactTestRenderer | undefined;
  await act(async () => {
    renderer = create(<Status client={client} renders={renders} />);
  });
  await act(async () => emitState(1, stateJson('signedOut', null)));
  await act(async () => emitState(1, stateJson('signedIn'), 't'));
  await act(async () => emitState(1, stateJson('signedOut', 'user_intent')));
  expect(renders.filter((r, i) => r !== renders[i - 1])).toEqual([
    'restoring:-',
    'signedOut:-',
    'signedIn:user-1',
    'signedOut:-',
  ]);
  await act(async () => renderer?.unmount());
  const count = renders.length;
  emitState(1, stateJson('signedIn'), 't');
  expect(renders).toHaveLength(count);
});
