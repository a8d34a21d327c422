/**
 * The end-to-end rig: an external issuer in Node (ES256 keys, a real JWKS endpoint), the Dynamic
 * emulator (`byoa emulator`, a separate process) and the spec implemented by the Rust test host
 * (`byoa-rn-test-host`, real `DynamicClient`s over JSON lines). Every wait has a bound.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import {
  generateKeyPairSync,
  randomUUID,
  sign,
  type KeyObject,
} from 'node:crypto';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type {
  NativeAuthStateEvent,
  NativeLogEvent,
  Spec,
} from '../src/NativeDynamicByoa';

/** Where `cargo build -q --workspace --all-targets` puts the binaries. */
export const BIN_DIR =
  process.env.BYOA_BIN_DIR ?? path.resolve(__dirname, '../../target/debug');

function binary(name: string): string {
  const file = path.join(BIN_DIR, name);
  if (!existsSync(file)) {
    throw new Error(
      `${file} is missing: build it first with \`cargo build -q --workspace --all-targets\` (or set BYOA_BIN_DIR)`
    );
  }
  return file;
}

/** Resolves with `promise`, or rejects after `ms` naming what was awaited. */
export function within<T>(ms: number, what: string, promise: Promise<T>) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${ms} ms: ${what}`)),
      ms
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const b64url = (data: string | Buffer) =>
  Buffer.from(data).toString('base64url');

/** The app's auth provider: an ES256 key and its JWKS on loopback. */
export class Issuer {
  private readonly key: KeyObject;
  readonly kid = randomUUID();
  private constructor(
    private readonly server: Server,
    readonly issuer: string,
    readonly jwksUrl: string,
    key: KeyObject
  ) {
    this.key = key;
  }

  static async start(): Promise<Issuer> {
    const { privateKey, publicKey } = generateKeyPairSync('ec', {
      namedCurve: 'P-256',
    });
    let jwks = '';
    const server = createServer((request, response) => {
      if (request.url === '/.well-known/jwks.json') {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(jwks);
      } else {
        response.writeHead(404).end();
      }
    });
    await within(
      5000,
      'the issuer to listen',
      new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    );
    const { port } = server.address() as AddressInfo;
    const origin = `http://127.0.0.1:${port}`;
    const issuer = new Issuer(
      server,
      origin,
      `${origin}/.well-known/jwks.json`,
      privateKey
    );
    jwks = JSON.stringify({
      keys: [
        {
          ...publicKey.export({ format: 'jwk' }),
          kid: issuer.kid,
          alg: 'ES256',
          use: 'sig',
        },
      ],
    });
    return issuer;
  }

  /** `{iss, sub, iat, exp}` valid from now for `ttlSeconds`, plus `extra`. */
  claims(sub: string, extra: Record<string, unknown> = {}, ttlSeconds = 600) {
    const now = Math.floor(Date.now() / 1000);
    return { iss: this.issuer, sub, iat: now, exp: now + ttlSeconds, ...extra };
  }

  /** An ES256 JWT over `claims`, signed by this issuer (or by `key`: a stranger's). */
  mint(claims: Record<string, unknown>, key: KeyObject = this.key): string {
    const header = b64url(
      JSON.stringify({ alg: 'ES256', typ: 'JWT', kid: this.kid })
    );
    const payload = b64url(JSON.stringify(claims));
    const signature = sign('sha256', Buffer.from(`${header}.${payload}`), {
      key,
      dsaEncoding: 'ieee-p1363',
    });
    return `${header}.${payload}.${b64url(signature)}`;
  }

  /** A key the JWKS does not publish. */
  static strangerKey(): KeyObject {
    return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Waits for the first stdout line matching `pattern`. */
function firstLine(
  child: ChildProcessWithoutNullStreams,
  pattern: RegExp,
  what: string
): Promise<RegExpMatchArray> {
  return within(
    20000,
    what,
    new Promise((resolve, reject) => {
      const lines = createInterface({ input: child.stdout });
      let stderr = '';
      child.stderr.on('data', (chunk) => (stderr += String(chunk)));
      lines.on('line', (line) => {
        const match = line.match(pattern);
        if (match) {
          lines.close();
          resolve(match);
        }
      });
      child.on('exit', (code) =>
        reject(new Error(`${what}: exited with ${code}: ${stderr}`))
      );
    })
  );
}

function stopped(child: ChildProcessWithoutNullStreams): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve();
  }
  return within(
    10000,
    'a child process to exit',
    new Promise<void>((resolve) => child.once('exit', () => resolve()))
  );
}

/** `byoa emulator` serving `environments` for `issuer`. */
export class Emulator {
  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    readonly apiBaseUrl: string
  ) {}

  static async start(
    issuer: Issuer,
    environments: string[]
  ): Promise<Emulator> {
    const dir = mkdtempSync(path.join(tmpdir(), 'byoa-rn-emulator-'));
    const config = path.join(dir, 'emulator.json');
    writeFileSync(
      config,
      JSON.stringify({
        port: 0,
        environments: environments.map((environmentId) => ({
          environmentId,
          issuer: issuer.issuer,
          jwksUrl: issuer.jwksUrl,
        })),
      })
    );
    const child = spawn(binary('byoa'), ['emulator', '--config', config]);
    const match = await firstLine(
      child,
      /listening on (http:\/\/127\.0\.0\.1:\d+\/api\/v0)/,
      'the emulator to listen'
    );
    return new Emulator(child, match[1] as string);
  }

  stop(): Promise<void> {
    this.child.kill('SIGINT');
    return stopped(this.child);
  }
}

type Pending = {
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
};

/**
 * The spec over the Rust test host. Rejections take Android's shape (`name` = the Kotlin
 * exception class), which the TypeScript layer must ignore.
 */
export class Host {
  readonly spec: Spec;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly stateListeners = new Set<
    (e: NativeAuthStateEvent) => void
  >();
  private readonly logListeners = new Set<(e: NativeLogEvent) => void>();
  /** Every line the host wrote, for the redaction checks. */
  readonly transcript: string[] = [];

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    readonly storageDir: string
  ) {
    createInterface({ input: child.stdout }).on('line', (line) =>
      this.onLine(line)
    );
    child.stderr.on('data', (chunk) => process.stderr.write(chunk));
    child.on('exit', () => {
      for (const { reject } of this.pending.values()) {
        reject(new Error('the test host exited'));
      }
      this.pending.clear();
    });
    const request =
      (method: string) =>
      (...args: unknown[]) =>
        this.request(method, args);
    const notify =
      (method: string) =>
      (...args: unknown[]) => {
        this.send(this.nextId++, method, args);
      };
    const subscribe =
      <T>(set: Set<(e: T) => void>) =>
      (listener: (e: T) => void) => {
        set.add(listener);
        return { remove: () => set.delete(listener) };
      };
    this.spec = {
      createClient: request('createClient'),
      disposeClient: notify('disposeClient'),
      startAuthStateEvents: notify('startAuthStateEvents'),
      stopAuthStateEvents: notify('stopAuthStateEvents'),
      signInWithExternalJwt: request('signInWithExternalJwt'),
      verifyWithExternalJwt: request('verifyWithExternalJwt'),
      restore: request('restore'),
      refresh: request('refresh'),
      getAccessToken: request('getAccessToken'),
      getElevatedAccessToken: request('getElevatedAccessToken'),
      logout: request('logout'),
      setLogLevel: notify('setLogLevel'),
      onAuthStateChanged: subscribe(this.stateListeners),
      onLog: subscribe(this.logListeners),
      getConstants: () => ({}),
    } as unknown as Spec;
  }

  /** A host on `storageDir` (a fresh temporary one by default). */
  static start(storageDir?: string): Host {
    const dir =
      storageDir ?? mkdtempSync(path.join(tmpdir(), 'byoa-rn-storage-'));
    const child = spawn(binary('byoa-rn-test-host'), ['--storage-dir', dir]);
    return new Host(child, dir);
  }

  private send(id: number, method: string, args: unknown[]) {
    this.child.stdin.write(`${JSON.stringify({ id, method, args })}\n`);
  }

  private request(method: string, args: unknown[]): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.send(id, method, args);
    });
  }

  private onLine(line: string) {
    this.transcript.push(line);
    const message = JSON.parse(line) as {
      id?: number;
      result?: unknown;
      error?: { code: string; message: string; userInfo: unknown };
      event?: string;
      payload?: unknown;
    };
    if (message.event === 'onAuthStateChanged') {
      for (const l of [...this.stateListeners]) {
        l(message.payload as NativeAuthStateEvent);
      }
      return;
    }
    if (message.event === 'onLog') {
      for (const l of [...this.logListeners]) {
        l(message.payload as NativeLogEvent);
      }
      return;
    }
    const pending =
      message.id === undefined ? undefined : this.pending.get(message.id);
    if (pending === undefined) return;
    this.pending.delete(message.id as number);
    if (message.error) {
      pending.reject(
        Object.assign(new Error(message.error.message), {
          code: message.error.code,
          userInfo: message.error.userInfo,
          name: 'xyz.dynamic.byoa.ByoaException',
          nativeStackAndroid: [],
        })
      );
    } else {
      pending.resolve(message.result);
    }
  }

  /** Closes stdin (the process ends, as an app that is killed) and waits for the exit. */
  stop(): Promise<void> {
    this.child.stdin.end();
    return stopped(this.child);
  }
}

let current: Host | undefined;

/** The spec the mocked `NativeDynamicByoa` forwards to: the current host's. */
export const hostSpec = new Proxy({} as Spec, {
  get: (_target, key) => {
    if (current === undefined) throw new Error('no test host is running');
    return (current.spec as unknown as Record<string | symbol, unknown>)[key];
  },
});

export function useHost(host: Host | undefined) {
  current = host;
}
