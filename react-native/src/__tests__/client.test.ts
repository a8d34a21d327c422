import { beforeEach, describe, expect, it, jest } from '@jest/globals';
import {
  androidRejection,
  bridge,
  emitState,
  fake,
  rejection,
  resetFake,
  settle,
  stateJson,
} from './fakeNative';
import {
  consoleLogger,
  createDynamicClient,
  DynamicError,
  setLogger,
  type AuthState,
  type LogLine,
  type UserProfile,
} from '../index';

jest.mock('../NativeDynamicByoa', () => ({
  __esModule: true,
  MODULE_NAME: 'DynamicByoa',
  default: require('./fakeNative').fakeNative,
}));

const ENV = '2762a57b-faa4-41ce-9f16-abff9300e2c9';
const JWT =
  'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
const params = { externalJwt: JWT, externalUserId: 'user-1' };
const sampleSession = JSON.parse(bridge.session) as {
  user: UserProfile;
  expiresAtMs: number;
};

function thrown(run: () => unknown): DynamicError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(DynamicError);
    return error as DynamicError;
  }
  throw new Error('expected a throw');
}

async function rejected(promise: Promise<unknown>): Promise<DynamicError> {
  const error = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e
  );
  expect(error).toBeInstanceOf(DynamicError);
  return error as DynamicError;
}

/** A client whose native side exists, with its state events started. */
async function readyClient() {
  const client = createDynamicClient({ environmentId: ENV });
  await client.ready;
  return client;
}

beforeEach(() => {
  resetFake();
});

describe('createDynamicClient', () => {
  it('passes the options given, and only those, to the native module', async () => {
    createDynamicClient({
      environmentId: ENV,
      apiBaseUrl: 'http://127.0.0.1:4010/api/v0',
      requestTimeoutMs: 5000,
      autoRefresh: false,
    });
    expect(fake().native.createClient).toHaveBeenCalledWith({
      environmentId: ENV,
      apiBaseUrl: 'http://127.0.0.1:4010/api/v0',
      requestTimeoutMs: 5000,
      autoRefresh: false,
    });
  });

  it('refuses a missing environmentId at once, naming the field', () => {
    const e = thrown(() => createDynamicClient({} as never));
    expect(e.code).toBe('invalid_configuration');
    expect(e.category).toBe('misconfiguration');
    expect(e.details.field).toBe('environmentId');
    expect(e.message).toContain('environmentId');
    expect(fake().native.createClient).not.toHaveBeenCalled();
  });

  it('refuses options of the wrong type, naming the field', () => {
    expect(
      thrown(() => createDynamicClient(undefined as never)).details.field
    ).toBe('options');
    const e = thrown(() =>
      createDynamicClient({
        environmentId: ENV,
        requestTimeoutMs: '15000' as never,
      })
    );
    expect(e.details.field).toBe('requestTimeoutMs');
    expect(e.message).toBe(
      '`requestTimeoutMs` must be a finite number, got string'
    );
    expect(
      thrown(() =>
        createDynamicClient({ environmentId: ENV, autoRefresh: 1 as never })
      ).details.field
    ).toBe('autoRefresh');
    expect(
      thrown(() =>
        createDynamicClient({ environmentId: ENV, apiBaseUrl: 4010 as never })
      ).details.field
    ).toBe('apiBaseUrl');
  });

  it('leaves the values to the core: its invalid_configuration rejects ready and every call', async () => {
    fake().native.createClient.mockRejectedValueOnce(
      androidRejection(rejection('invalid_configuration'))
    );
    const client = createDynamicClient({ environmentId: 'not-a-uuid' });
    expect((await rejected(client.ready)).code).toBe('invalid_configuration');
    const e = await rejected(
      client.auth.external.signInWithExternalJwt(params)
    );
    expect(e.code).toBe('invalid_configuration');
    expect(e.details.field).toBe('environment_id');
    expect(fake().native.signInWithExternalJwt).not.toHaveBeenCalled();
  });

  it('keeps several clients apart by handle', async () => {
    const a = await readyClient();
    const b = await readyClient();
    emitState(1, stateJson('signedIn'), 'token-a');
    emitState(2, stateJson('signedOut', null));
    expect(a.auth.state.status).toBe('signedIn');
    expect(a.auth.token).toBe('token-a');
    expect(b.auth.state.status).toBe('signedOut');
    expect(b.auth.token).toBeNull();
    await b.auth.logout();
    expect(fake().native.logout).toHaveBeenCalledWith(2);
  });
});

describe('auth.external.signInWithExternalJwt', () => {
  it('sends the JWT and user id and resolves with the profile the core returned', async () => {
    const client = createDynamicClient({ environmentId: ENV });
    const user = await client.auth.external.signInWithExternalJwt(params);
    expect(fake().native.signInWithExternalJwt).toHaveBeenCalledWith(
      1,
      JWT,
      'user-1'
    );
    expect(user).toEqual(sampleSession.user);
    expect(user.externalUserId).toBe('user-1');
    expect(user.verifiedCredentials.map((c) => c.format)).toEqual([
      'externalUser',
      'email',
      'somethingNew',
    ]);
  });

  it('emits authSuccess with the user', async () => {
    const client = await readyClient();
    const onSuccess = jest.fn();
    client.auth.on('authSuccess', onSuccess);
    await client.auth.external.signInWithExternalJwt(params);
    expect(onSuccess).toHaveBeenCalledWith(sampleSession.user);
  });

  it("emits authFailed with Dynamic's payload shape and the typed error", async () => {
    fake().native.signInWithExternalJwt.mockRejectedValueOnce(
      androidRejection(rejection('external_auth_rejected'))
    );
    const client = await readyClient();
    const onFailed = jest.fn();
    client.auth.on('authFailed', onFailed);
    const e = await rejected(
      client.auth.external.signInWithExternalJwt(params)
    );
    expect(e.reason).toBe('issuer');
    expect(onFailed).toHaveBeenCalledWith(
      { type: 'externalAuth', externalUserId: 'user-1' },
      { error: e }
    );
  });

  it('refuses a missing externalJwt before crossing the bridge', async () => {
    const client = await readyClient();
    const e = await rejected(
      client.auth.external.signInWithExternalJwt({
        externalUserId: 'user-1',
      } as never)
    );
    expect(e.code).toBe('empty_jwt');
    expect(e.category).toBe('invalid_input');
    expect(e.details.field).toBe('externalJwt');
    expect(e.message).toBe(
      'signInWithExternalJwt needs `externalJwt`: the raw JWT from your auth provider'
    );
    expect(fake().native.signInWithExternalJwt).not.toHaveBeenCalled();
  });

  it('refuses an externalJwt that is not a string', async () => {
    const client = await readyClient();
    const e = await rejected(
      client.auth.external.signInWithExternalJwt({
        externalJwt: { token: JWT },
        externalUserId: 'user-1',
      } as never)
    );
    expect(e.code).toBe('malformed_jwt');
    expect(e.message).toBe(
      '`externalJwt` must be a string (the encoded JWT), got object'
    );
  });

  it('refuses a missing externalUserId without quoting the JWT', async () => {
    const client = await readyClient();
    const onFailed = jest.fn();
    client.auth.on('authFailed', onFailed);
    const e = await rejected(
      client.auth.external.signInWithExternalJwt({ externalJwt: JWT } as never)
    );
    expect(e.code).toBe('external_user_id_mismatch');
    expect(e.details.field).toBe('externalUserId');
    for (const segment of JWT.split('.')) {
      expect(e.message).not.toContain(segment);
    }
    expect(onFailed).toHaveBeenCalledTimes(1);
    expect(fake().native.signInWithExternalJwt).not.toHaveBeenCalled();
  });

  it('refuses no parameters at all', async () => {
    const client = await readyClient();
    expect(
      (
        await rejected(
          client.auth.external.signInWithExternalJwt(undefined as never)
        )
      ).code
    ).toBe('empty_jwt');
  });

  it("passes claims it cannot judge to the core (an empty user id is the core's mismatch)", async () => {
    const client = await readyClient();
    await client.auth.external.signInWithExternalJwt({
      externalJwt: JWT,
      externalUserId: '',
    });
    expect(fake().native.signInWithExternalJwt).toHaveBeenCalledWith(
      1,
      JWT,
      ''
    );
  });

  it('reports an unreadable payload as internal', async () => {
    fake().native.signInWithExternalJwt.mockResolvedValueOnce('not json');
    const client = await readyClient();
    expect(
      (await rejected(client.auth.external.signInWithExternalJwt(params))).code
    ).toBe('internal');
  });
});

describe('the rest of the session', () => {
  it('verifyWithExternalJwt resolves with the elevated access', async () => {
    const client = await readyClient();
    const access = await client.auth.external.verifyWithExternalJwt({
      externalJwt: JWT,
    });
    expect(fake().native.verifyWithExternalJwt).toHaveBeenCalledWith(1, JWT);
    expect(access).toEqual({
      scopes: ['wallet:export'],
      expiresAtMs: 1700000300000,
      singleUse: true,
    });
    expect(
      (await rejected(client.auth.external.verifyWithExternalJwt({} as never)))
        .code
    ).toBe('empty_jwt');
  });

  it('getElevatedAccessToken passes the scopes and returns the token or null', async () => {
    const client = await readyClient();
    expect(
      await client.auth.getElevatedAccessToken({ scopes: ['wallet:export'] })
    ).toBe('elevated-token');
    expect(fake().native.getElevatedAccessToken).toHaveBeenCalledWith(1, [
      'wallet:export',
    ]);
    fake().native.getElevatedAccessToken.mockResolvedValueOnce({ token: null });
    expect(
      await client.auth.getElevatedAccessToken({ scopes: ['x'] })
    ).toBeNull();
    expect(
      (
        await rejected(
          client.auth.getElevatedAccessToken({ scopes: 'x' } as never)
        )
      ).details.field
    ).toBe('scopes');
  });

  it('getAccessToken defaults to the core (null min TTL) and passes options through', async () => {
    const client = await readyClient();
    expect(await client.auth.getAccessToken()).toBe('bearer-token');
    expect(fake().native.getAccessToken).toHaveBeenLastCalledWith(
      1,
      null,
      false
    );
    await client.auth.getAccessToken({
      minTtlSeconds: 120,
      forceRefresh: true,
    });
    expect(fake().native.getAccessToken).toHaveBeenLastCalledWith(1, 120, true);
    expect(
      (
        await rejected(
          client.auth.getAccessToken({ minTtlSeconds: '1' } as never)
        )
      ).details.field
    ).toBe('minTtlSeconds');
    fake().native.getAccessToken.mockRejectedValueOnce(
      androidRejection(rejection('not_signed_in'))
    );
    const e = await rejected(client.auth.getAccessToken());
    expect(e.code).toBe('not_signed_in');
    expect(e.category).toBe('sign_in_again');
  });

  it('restore resolves with the parsed state and refresh with the session', async () => {
    const client = await readyClient();
    const state = await client.auth.restore();
    expect(state).toEqual({ status: 'signedIn', session: sampleSession });
    expect(await client.auth.refresh()).toEqual(sampleSession);
  });

  it('logout calls the core', async () => {
    const client = await readyClient();
    await client.auth.logout();
    expect(fake().native.logout).toHaveBeenCalledWith(1);
  });
});

describe('state events', () => {
  it('subscribes before creating the client and starts events only once the handle exists', async () => {
    const order: string[] = [];
    fake().native.onAuthStateChanged.mockImplementationOnce((listener) => {
      order.push('subscribe');
      return fake().states.subscribe(listener);
    });
    fake().native.createClient.mockImplementationOnce(async () => {
      order.push('create');
      return 1;
    });
    fake().native.startAuthStateEvents.mockImplementationOnce(() => {
      order.push('start');
    });
    const client = createDynamicClient({ environmentId: ENV });
    await client.ready;
    expect(order).toEqual(['subscribe', 'create', 'start']);
    expect(fake().native.startAuthStateEvents).toHaveBeenCalledWith(1);
  });

  it('every bridge state parses into the union', async () => {
    const client = await readyClient();
    const seen: AuthState[] = [];
    client.auth.onAuthStateChanged((s) => seen.push(s));
    for (const json of bridge.states) emitState(1, json);
    expect(seen.map((s) => s.status)).toEqual([
      'restoring',
      'restoring',
      'signedOut',
      'signedOut',
      'signedOut',
      'signedOut',
      'signedOut',
      'signedOut',
      'signedOut',
      'signedOut',
      'signedIn',
      'storageUnavailable',
    ]);
    expect(seen.at(-1)).toEqual({
      status: 'storageUnavailable',
      error: { kind: 'unavailable', detail: 'protected data unavailable' },
    });
  });

  it('the getters hold the last values the core reported', async () => {
    const client = createDynamicClient({ environmentId: ENV });
    expect(client.auth.state).toEqual({ status: 'restoring' });
    expect(client.auth.authenticatedUser).toBeNull();
    expect(client.auth.token).toBeNull();
    await client.ready;
    emitState(1, stateJson('signedIn'), 'token-1');
    expect(client.auth.authenticatedUser).toEqual(sampleSession.user);
    expect(client.auth.session).toEqual(sampleSession);
    expect(client.auth.token).toBe('token-1');
    emitState(1, stateJson('signedOut', 'expired'));
    expect(client.auth.state).toEqual({
      status: 'signedOut',
      reason: 'expired',
    });
    expect(client.auth.authenticatedUser).toBeNull();
    expect(client.auth.session).toBeNull();
    expect(client.auth.token).toBeNull();
  });

  it("emits Dynamic's events: authenticatedUserChanged, tokenChanged, loggedOut", async () => {
    const client = await readyClient();
    const events: unknown[][] = [];
    client.auth.on('authenticatedUserChanged', (user) =>
      events.push(['authenticatedUserChanged', user?.userId ?? null])
    );
    client.auth.on('tokenChanged', (token) =>
      events.push(['tokenChanged', token])
    );
    client.auth.on('loggedOut', (user, reason) =>
      events.push(['loggedOut', user?.userId ?? null, reason])
    );
    emitState(1, stateJson('signedOut', null));
    emitState(1, stateJson('signedIn'), 'token-1');
    emitState(1, stateJson('signedIn'), 'token-2'); // a refresh: same user, new token
    emitState(1, stateJson('signedOut', 'user_intent'));
    const userId = sampleSession.user.userId;
    expect(events).toEqual([
      ['authenticatedUserChanged', userId],
      ['tokenChanged', 'token-1'],
      ['tokenChanged', 'token-2'],
      ['authenticatedUserChanged', null],
      ['tokenChanged', null],
      ['loggedOut', userId, 'user_intent'],
    ]);
  });

  it('onAuthStateChanged starts with the current state and stops on unsubscribe', async () => {
    const client = await readyClient();
    emitState(1, stateJson('signedOut', null));
    const seen: string[] = [];
    const unsubscribe = client.auth.onAuthStateChanged((s) =>
      seen.push(s.status)
    );
    emitState(1, stateJson('signedIn'), 't');
    unsubscribe();
    emitState(1, stateJson('signedOut', 'user_intent'));
    expect(seen).toEqual(['signedOut', 'signedIn']);
  });

  it('on returns an unsubscribe function, and off removes a listener', async () => {
    const client = await readyClient();
    const a = jest.fn();
    const b = jest.fn();
    const stop = client.auth.on('tokenChanged', a);
    client.auth.on('tokenChanged', b);
    stop();
    client.auth.off('tokenChanged', b);
    emitState(1, stateJson('signedIn'), 't');
    expect(a).not.toHaveBeenCalled();
    expect(b).not.toHaveBeenCalled();
  });

  it('a listener that throws does not stop the others', async () => {
    const client = await readyClient();
    const error = jest.spyOn(console, 'error').mockImplementation(() => {});
    const after = jest.fn();
    client.auth.on('tokenChanged', () => {
      throw new Error('app bug');
    });
    client.auth.on('tokenChanged', after);
    emitState(1, stateJson('signedIn'), 't');
    expect(after).toHaveBeenCalledWith('t');
    expect(error).toHaveBeenCalled();
    error.mockRestore();
  });

  it('ignores events of other handles and unreadable payloads', async () => {
    const client = await readyClient();
    emitState(2, stateJson('signedIn'), 'other');
    emitState(1, 'garbage');
    expect(client.auth.state).toEqual({ status: 'restoring' });
  });

  it('dispose stops events and releases the native client', async () => {
    const client = await readyClient();
    client.dispose();
    expect(fake().states.listeners.size).toBe(0);
    expect(fake().native.disposeClient).toHaveBeenCalledWith(1);
    expect((await rejected(client.auth.logout())).details.field).toBe('client');
  });

  it('a client disposed before its native side exists releases it when it arrives', async () => {
    const client = createDynamicClient({ environmentId: ENV });
    client.dispose();
    await rejected(client.ready);
    expect(fake().native.disposeClient).toHaveBeenCalledWith(1);
    expect(fake().native.startAuthStateEvents).not.toHaveBeenCalled();
  });
});

describe('logs', () => {
  it('routes the core lines to the app logger at the level asked, and turns off', async () => {
    const lines: LogLine[] = [];
    setLogger((line) => lines.push(line), { level: 'debug' });
    expect(fake().native.setLogLevel).toHaveBeenLastCalledWith('debug');
    fake().logs.emit({
      level: 'info',
      target: 'dynamic_byoa::state',
      message: 'state: signed out',
    });
    expect(lines).toEqual([
      {
        level: 'info',
        target: 'dynamic_byoa::state',
        message: 'state: signed out',
      },
    ]);
    setLogger(null);
    expect(fake().native.setLogLevel).toHaveBeenLastCalledWith('off');
    fake().logs.emit({ level: 'info', target: 't', message: 'dropped' });
    expect(lines).toHaveLength(1);
    await settle();
  });

  it('defaults to warn and refuses an unknown level', () => {
    setLogger(() => {});
    expect(fake().native.setLogLevel).toHaveBeenLastCalledWith('warn');
    expect(
      thrown(() => setLogger(() => {}, { level: 'loud' as never })).details
        .field
    ).toBe('level');
    setLogger(null);
  });

  it('consoleLogger writes each level to the matching console method', () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => {});
    const debug = jest.spyOn(console, 'debug').mockImplementation(() => {});
    consoleLogger({
      level: 'warn',
      target: 'dynamic_byoa::storage',
      message: 'save failed',
    });
    consoleLogger({
      level: 'trace',
      target: 'dynamic_byoa::http',
      message: 'GET',
    });
    expect(warn).toHaveBeenCalledWith('[dynamic_byoa::storage] save failed');
    expect(debug).toHaveBeenCalledWith('[dynamic_byoa::http] GET');
    warn.mockRestore();
    debug.mockRestore();
  });
});
