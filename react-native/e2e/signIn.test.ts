/**
 * End to end in Node against the real core: the public TypeScript API over the spec, the spec
 * implemented by the Rust test host (real `DynamicClient`s, reqwest, `FileStorage`), against the
 * Dynamic emulator verifying JWTs from an issuer running here. The payloads are the Rust bridge's,
 * so this is the TypeScript side of what the phones run.
 */
import {
  afterAll,
  afterEach,
  beforeAll,
  describe,
  expect,
  it,
  jest,
} from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { Emulator, Host, Issuer, useHost, within } from './support';
import {
  createDynamicClient,
  DynamicError,
  setLogger,
  type AuthState,
  type DynamicClient,
  type LogLine,
} from '../src/index';

jest.mock('../src/NativeDynamicByoa', () => ({
  __esModule: true,
  MODULE_NAME: 'DynamicByoa',
  default: require('./support').hostSpec,
}));

const ENV = '2762a57b-faa4-41ce-9f16-abff9300e2c9';
const OTHER_ENV = '0f6c1d7e-3b2a-4c5d-8e9f-a0b1c2d3e4f5';

let issuer: Issuer;
let emulator: Emulator;
let host: Host;
const clients: DynamicClient[] = [];

beforeAll(async () => {
  issuer = await Issuer.start();
  emulator = await Emulator.start(issuer, [ENV, OTHER_ENV]);
  host = Host.start();
  useHost(host);
});

// The clients of one environment share its stored session (one host, one store): each test
// ends signed out, so the next one starts from an empty store.
afterEach(async () => {
  const done = clients.splice(0);
  await Promise.all(done.map((c) => c.auth.logout().catch(() => {})));
  for (const c of done) c.dispose();
});

afterAll(async () => {
  useHost(undefined);
  await host?.stop();
  await emulator?.stop();
  await issuer?.close();
});

function client(environmentId = ENV): DynamicClient {
  const c = createDynamicClient({
    environmentId,
    apiBaseUrl: emulator.apiBaseUrl,
  });
  clients.push(c);
  return c;
}

let users = 0;

/**
 * A fresh external user, so tests do not share Dynamic users. Short on purpose: the core
 * redacts token-shaped runs (40 or more base64url characters besides UUIDs) in error texts and
 * details.
 */
function newUser(): string {
  users += 1;
  return `user-${users}-${process.pid}`;
}

/** Resolves with the first state (current or later) that `matches`; bounded. */
function stateWhere(
  c: DynamicClient,
  matches: (state: AuthState) => boolean,
  what: string
): Promise<AuthState> {
  let stop = () => {};
  const found = new Promise<AuthState>((resolve) => {
    stop = c.auth.onAuthStateChanged((state) => {
      if (matches(state)) resolve(state);
    });
  });
  return within(10000, what, found).finally(() => stop());
}

async function rejection(promise: Promise<unknown>): Promise<DynamicError> {
  const error = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e
  );
  expect(error).toBeInstanceOf(DynamicError);
  return error as DynamicError;
}

describe('signInWithExternalJwt against the emulator', () => {
  it('signs in and resolves with the profile, as Dynamic documents the call', async () => {
    const dynamicClient = client();
    const externalUserId = newUser();
    const externalJwt = issuer.mint(issuer.claims(externalUserId));
    const onSuccess = jest.fn();
    dynamicClient.auth.on('authSuccess', onSuccess);

    const user = await dynamicClient.auth.external.signInWithExternalJwt({
      externalJwt,
      externalUserId,
    });

    expect(user.externalUserId).toBe(externalUserId);
    expect(user.environmentId).toBe(ENV);
    expect(user.userId).toMatch(/^[0-9a-f-]{36}$/);
    expect(user.newUser).toBe(true);
    expect(user.verifiedCredentials).toContainEqual(
      expect.objectContaining({
        format: 'externalUser',
        publicIdentifier: externalUserId,
      })
    );
    expect(onSuccess).toHaveBeenCalledWith(user);
    // The state event is delivered before the call resolves.
    expect(dynamicClient.auth.authenticatedUser).toEqual(user);
    expect(dynamicClient.auth.token).toEqual(expect.any(String));
    expect(await dynamicClient.auth.getAccessToken()).toBe(
      dynamicClient.auth.token
    );
  });

  it('refuses on the device with a typed preflight error', async () => {
    const dynamicClient = client();
    const externalUserId = newUser();
    const mismatch = await rejection(
      dynamicClient.auth.external.signInWithExternalJwt({
        externalJwt: issuer.mint(issuer.claims('someone-else')),
        externalUserId,
      })
    );
    expect(mismatch.code).toBe('external_user_id_mismatch');
    expect(mismatch.category).toBe('invalid_input');
    expect(mismatch.details).toEqual({
      jwtSub: 'someone-else',
      externalUserId,
    });

    const expired = await rejection(
      dynamicClient.auth.external.signInWithExternalJwt({
        externalJwt: issuer.mint(issuer.claims(externalUserId, {}, -3600)),
        externalUserId,
      })
    );
    expect(expired.code).toBe('jwt_expired');
    expect(expired.details.leewaySeconds).toBe(60);
    expect(expired.isRetryable).toBe(false);
    expect(dynamicClient.auth.state.status).toBe('signedOut');
  });

  it("refuses with Dynamic's reason when the server says no", async () => {
    const dynamicClient = client();
    const externalUserId = newUser();
    const onFailed = jest.fn();
    dynamicClient.auth.on('authFailed', onFailed);

    const wrongIssuer = await rejection(
      dynamicClient.auth.external.signInWithExternalJwt({
        externalJwt: issuer.mint(
          issuer.claims(externalUserId, {
            iss: 'https://not-the-issuer.example',
          })
        ),
        externalUserId,
      })
    );
    expect(wrongIssuer.code).toBe('external_auth_rejected');
    expect(wrongIssuer.category).toBe('rejected');
    expect(wrongIssuer.reason).toBe('issuer');
    expect(wrongIssuer.serverDetail).toEqual(expect.any(String));

    const forged = await rejection(
      dynamicClient.auth.external.signInWithExternalJwt({
        externalJwt: issuer.mint(
          issuer.claims(externalUserId),
          Issuer.strangerKey()
        ),
        externalUserId,
      })
    );
    expect(forged.code).toBe('external_auth_rejected');
    expect(forged.reason).toBe('signature');
    expect(onFailed).toHaveBeenCalledTimes(2);
    expect(onFailed).toHaveBeenLastCalledWith(
      { type: 'externalAuth', externalUserId },
      { error: forged }
    );
  });

  it("reports the core's own configuration refusal", async () => {
    const bad = createDynamicClient({ environmentId: 'not-a-uuid' });
    clients.push(bad);
    const e = await rejection(bad.ready);
    expect(e.code).toBe('invalid_configuration');
    expect(e.details.field).toBe('environment_id');
  });
});

describe('the session', () => {
  it('delivers state events in order: signed out, signed in, signed out by the user', async () => {
    const dynamicClient = client();
    const externalUserId = newUser();
    const seen: AuthState[] = [];
    dynamicClient.auth.onAuthStateChanged((state) => seen.push(state));
    const loggedOut = jest.fn();
    dynamicClient.auth.on('loggedOut', loggedOut);
    await stateWhere(
      dynamicClient,
      (s) => s.status === 'signedOut',
      'the first restore to settle'
    );

    const user = await dynamicClient.auth.external.signInWithExternalJwt({
      externalJwt: issuer.mint(issuer.claims(externalUserId)),
      externalUserId,
    });
    await dynamicClient.auth.logout();
    await stateWhere(
      dynamicClient,
      (s) => s.status === 'signedOut' && s.reason === 'user_intent',
      'the sign-out'
    );

    const statuses = seen.map((s) =>
      s.status === 'signedOut' ? `signedOut:${s.reason}` : s.status
    );
    const settled = statuses.filter((s, i) => s !== statuses[i - 1]);
    expect(settled.filter((s) => s !== 'restoring')).toEqual([
      'signedOut:null',
      'signedIn',
      'signedOut:user_intent',
    ]);
    expect(settled[0]).toMatch(/^(restoring|signedOut:null)$/);
    expect(loggedOut).toHaveBeenCalledWith(user, 'user_intent');
    expect(dynamicClient.auth.token).toBeNull();
    const e = await rejection(dynamicClient.auth.getAccessToken());
    expect(e.code).toBe('not_signed_in');
    expect(e.category).toBe('sign_in_again');
  });

  it('steps up with an assertion, hands out the elevated token, and refuses a replay', async () => {
    const dynamicClient = client();
    const externalUserId = newUser();
    await dynamicClient.auth.external.signInWithExternalJwt({
      externalJwt: issuer.mint(issuer.claims(externalUserId)),
      externalUserId,
    });
    const assertion = issuer.mint(
      issuer.claims(externalUserId, {
        scope: 'wallet:export',
        jti: randomUUID(),
      })
    );

    const access = await dynamicClient.auth.external.verifyWithExternalJwt({
      externalJwt: assertion,
    });
    expect(access.scopes).toEqual(['wallet:export']);
    expect(access.expiresAtMs).toBeGreaterThan(Date.now());
    expect(
      await dynamicClient.auth.getElevatedAccessToken({
        scopes: ['wallet:export'],
      })
    ).toEqual(expect.any(String));

    const replay = await rejection(
      dynamicClient.auth.external.verifyWithExternalJwt({
        externalJwt: assertion,
      })
    );
    expect(replay.code).toBe('external_auth_rejected');
    expect(replay.reason).toBe('replayed');
  });

  it('refreshes the session of the same user', async () => {
    const dynamicClient = client();
    const externalUserId = newUser();
    const user = await dynamicClient.auth.external.signInWithExternalJwt({
      externalJwt: issuer.mint(issuer.claims(externalUserId)),
      externalUserId,
    });
    const session = await dynamicClient.auth.refresh();
    expect(session.user.userId).toBe(user.userId);
    expect(session.expiresAtMs).toBeGreaterThan(Date.now());
  });

  it('keeps clients of two environments apart', async () => {
    const a = client(ENV);
    const b = client(OTHER_ENV);
    const externalUserId = newUser();
    await a.auth.external.signInWithExternalJwt({
      externalJwt: issuer.mint(issuer.claims(externalUserId)),
      externalUserId,
    });
    expect((await b.auth.restore()).status).toBe('signedOut');
    expect(a.auth.state.status).toBe('signedIn');
    expect(b.auth.authenticatedUser).toBeNull();
  });

  it('routes the core logs, and no line carries a piece of a token', async () => {
    const lines: LogLine[] = [];
    setLogger((line) => lines.push(line), { level: 'debug' });
    try {
      const dynamicClient = client();
      const externalUserId = newUser();
      const externalJwt = issuer.mint(issuer.claims(externalUserId));
      await dynamicClient.auth.external.signInWithExternalJwt({
        externalJwt,
        externalUserId,
      });
      const bearer = await dynamicClient.auth.getAccessToken();
      await dynamicClient.auth.logout();
      expect(lines.some((l) => l.target === 'dynamic_byoa::http')).toBe(true);
      expect(lines.some((l) => l.target === 'dynamic_byoa::state')).toBe(true);
      const text = lines.map((l) => l.message).join('\n');
      for (const token of [externalJwt, bearer]) {
        for (const segment of token.split('.')) {
          expect(text).not.toContain(segment);
        }
      }
    } finally {
      setLogger(null);
    }
  });
});

describe('a restart', () => {
  it('restores the session from the file store in a new process', async () => {
    const first = client();
    const externalUserId = newUser();
    const user = await first.auth.external.signInWithExternalJwt({
      externalJwt: issuer.mint(issuer.claims(externalUserId)),
      externalUserId,
    });
    first.dispose();

    // The app is killed and launched again: a new host process on the same store.
    await host.stop();
    host = Host.start(host.storageDir);
    useHost(host);

    const second = client();
    expect(second.auth.state.status).toBe('restoring');
    const restored = await second.auth.restore();
    expect(restored.status).toBe('signedIn');
    expect(restored.status === 'signedIn' && restored.session.user.userId).toBe(
      user.userId
    );
    await stateWhere(
      second,
      (s) => s.status === 'signedIn',
      'the restored state to reach the getters'
    );
    expect(second.auth.authenticatedUser?.externalUserId).toBe(externalUserId);
    expect(await second.auth.getAccessToken()).toBe(second.auth.token);
  });
});
