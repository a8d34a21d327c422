/**
 * The scenario table (`scenarios/native-module.json`, see its README) run against the spec as
 * the Rust test host implements it, over the real core and the emulator. The Android module's
 * Robolectric suite runs the same table: both must see exactly these payloads.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Emulator, Host, Issuer, within } from './support';
import type {
  NativeAuthStateEvent,
  NativeClientConfig,
  Spec,
} from '../src/NativeDynamicByoa';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

type Step = {
  call?: string;
  args?: Json[];
  resolves?: Json;
  resolvesJson?: Json;
  rejects?: { code: string; message: string; userInfo: Json };
  events?: { state: Json; token: Json }[];
  then?: { call: string; args?: Json[] };
};

/** Every key a step may have: a typo (`resolve`) fails instead of reading as a void call. */
const STEP_KEYS = new Set([
  'call',
  'args',
  'resolves',
  'resolvesJson',
  'rejects',
  'events',
  'then',
]);

type Table = {
  environmentId: string;
  scenarios: { name: string; steps: Step[] }[];
};

const table = JSON.parse(
  readFileSync(
    path.resolve(__dirname, '../scenarios/native-module.json'),
    'utf8'
  )
) as Table;

/** What a scenario's placeholders stand for. */
type Context = { user: string; env: string; issuer: Issuer };

/** The spec's methods whose first parameter is not the client's handle. */
const WITHOUT_HANDLE = new Set(['createClient', 'setLogLevel']);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function interpolate(text: string, ctx: Context): string {
  return text.replaceAll('{user}', ctx.user).replaceAll('{env}', ctx.env);
}

/** A `{"$jwt": ...}` argument: minted now by the scenario's issuer. */
function mint(spec: { [key: string]: Json }, ctx: Context): string {
  const extra: Record<string, unknown> = {};
  for (const [claim, value] of Object.entries(
    (spec.extra ?? {}) as { [key: string]: Json }
  )) {
    extra[claim] = value === '$fresh' ? randomUUID() : resolveArg(value, ctx);
  }
  const ttl = typeof spec.ttlSeconds === 'number' ? spec.ttlSeconds : 600;
  const claims = ctx.issuer.claims(
    interpolate(String(spec.sub ?? '{user}'), ctx),
    extra,
    ttl
  );
  return spec.signer === 'stranger'
    ? ctx.issuer.mint(claims, Issuer.strangerKey())
    : ctx.issuer.mint(claims);
}

function resolveArg(value: Json, ctx: Context): Json {
  if (typeof value === 'string') return interpolate(value, ctx);
  if (Array.isArray(value)) return value.map((v) => resolveArg(v, ctx));
  if (value !== null && typeof value === 'object') {
    if ('$jwt' in value) {
      return mint(value.$jwt as { [key: string]: Json }, ctx);
    }
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, resolveArg(v, ctx)])
    );
  }
  return value;
}

/** Where `actual` departs from `expected` (empty: it matches), per the README's matchers. */
function mismatches(
  expected: Json,
  actual: unknown,
  ctx: Context,
  at = '$'
): string[] {
  // A mismatch names what it got, but never a token: JWT-shaped text is shown by its length.
  const show = (v: unknown) =>
    JSON.stringify(v, (_, value: unknown) =>
      typeof value === 'string' && /[\w-]{8,}\.[\w-]{8,}\.[\w-]{8,}/.test(value)
        ? `<token of ${value.length} characters>`
        : value
    );
  if (typeof expected === 'string') {
    const ok = (() => {
      if (expected === '$any') return true;
      if (expected === '$string')
        return typeof actual === 'string' && actual.length > 0;
      if (expected === '$uuid')
        return typeof actual === 'string' && UUID.test(actual);
      if (expected === '$number') return typeof actual === 'number';
      if (expected.startsWith('$prefix:'))
        return (
          typeof actual === 'string' &&
          actual.startsWith(interpolate(expected.slice(8), ctx))
        );
      return actual === interpolate(expected, ctx);
    })();
    return ok ? [] : [`${at}: expected ${expected}, got ${show(actual)}`];
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) {
      return [`${at}: expected ${expected.length} items, got ${show(actual)}`];
    }
    return expected.flatMap((e, i) =>
      mismatches(e, actual[i], ctx, `${at}[${i}]`)
    );
  }
  if (expected !== null && typeof expected === 'object') {
    if (
      actual === null ||
      typeof actual !== 'object' ||
      Array.isArray(actual)
    ) {
      return [`${at}: expected an object, got ${show(actual)}`];
    }
    const keys = new Set([...Object.keys(expected), ...Object.keys(actual)]);
    return [...keys].flatMap((key) =>
      key in expected
        ? mismatches(
            expected[key] as Json,
            (actual as Record<string, unknown>)[key],
            ctx,
            `${at}.${key}`
          )
        : [
            `${at}.${key}: not expected, got ${show((actual as Record<string, unknown>)[key])}`,
          ]
    );
  }
  return actual === expected
    ? []
    : [`${at}: expected ${show(expected)}, got ${show(actual)}`];
}

function expectMatch(
  expected: Json,
  actual: unknown,
  ctx: Context,
  what: string
) {
  expect({ what, mismatches: mismatches(expected, actual, ctx) }).toEqual({
    what,
    mismatches: [],
  });
}

/** `onAuthStateChanged` events of one client, in arrival order. */
class EventQueue {
  private events: NativeAuthStateEvent[] = [];
  private wake = () => {};
  private readonly subscription: { remove: () => void };

  constructor(spec: Spec, handle: number) {
    this.subscription = spec.onAuthStateChanged((event) => {
      if (event.handle !== handle) return;
      this.events.push(event);
      this.wake();
    });
  }

  /** Every event so far once there are at least `count` (bounded), and forgets them. */
  async take(count: number): Promise<NativeAuthStateEvent[]> {
    await within(
      10000,
      `${count} state event(s), have ${this.events.length}`,
      new Promise<void>((resolve) => {
        const check = () => {
          if (this.events.length >= count) resolve();
        };
        this.wake = check;
        check();
      })
    );
    return this.events.splice(0);
  }

  close() {
    this.subscription.remove();
  }
}

async function runStep(
  spec: Spec,
  handle: number,
  step: Step,
  events: EventQueue,
  ctx: Context,
  index: number
) {
  const unknown = Object.keys(step).filter((key) => !STEP_KEYS.has(key));
  if (unknown.length > 0) {
    throw new Error(`step ${index}: unknown key(s) ${unknown.join(', ')}`);
  }
  if (step.events !== undefined) {
    const seen = (await events.take(step.events.length)).map((e) => ({
      state: JSON.parse(e.stateJson) as Json,
      token: e.token,
    }));
    expectMatch(step.events, seen, ctx, `step ${index}: events`);
    return;
  }
  const method = (
    spec as unknown as Record<string, (...a: unknown[]) => unknown>
  )[step.call as string];
  if (method === undefined)
    throw new Error(`step ${index}: no method ${step.call}`);
  const rest = (step.args ?? []).map((a) => resolveArg(a, ctx));
  const args = WITHOUT_HANDLE.has(step.call as string)
    ? rest
    : [handle, ...rest];
  const what = `step ${index}: ${step.call}`;
  if (
    step.resolves === undefined &&
    step.resolvesJson === undefined &&
    step.rejects === undefined
  ) {
    method(...args);
    return;
  }
  const pending = Promise.resolve(method(...args));
  if (step.then !== undefined) {
    // Sent right behind the call, before it settles (e.g. disposeClient after logout).
    await runStep(spec, handle, step.then, events, ctx, index);
  }
  const outcome = await within(
    20000,
    what,
    pending.then(
      (value) => ({ value }),
      (error: unknown) => ({ error: error as Record<string, unknown> })
    )
  );
  if (step.rejects !== undefined) {
    const error = 'error' in outcome ? outcome.error : undefined;
    expectMatch(
      step.rejects as unknown as Json,
      error && {
        code: error.code,
        message: error.message,
        userInfo: error.userInfo,
      },
      ctx,
      `${what} rejects`
    );
  } else if ('error' in outcome) {
    throw new Error(
      `${what} rejected: ${String(outcome.error.code)}: ${String(outcome.error.message)}`
    );
  } else if (step.resolvesJson !== undefined) {
    expectMatch(
      step.resolvesJson,
      JSON.parse(String(outcome.value)),
      ctx,
      what
    );
  } else {
    // A void promise resolves with null from the test host and the phones alike; undefined
    // (a runner's own stand-in) reads as the same.
    expectMatch(step.resolves as Json, outcome.value ?? null, ctx, what);
  }
}

let issuer: Issuer;
let emulator: Emulator;
let host: Host;
let users = 0;

beforeAll(async () => {
  issuer = await Issuer.start();
  emulator = await Emulator.start(issuer, [table.environmentId]);
  host = Host.start();
});

afterAll(async () => {
  await host?.stop();
  await emulator?.stop();
  await issuer?.close();
});

describe('the native module scenario table, through the Rust test host', () => {
  it.each(table.scenarios.map((s) => [s.name, s] as const))(
    '%s',
    async (_, scenario) => {
      users += 1;
      const ctx: Context = {
        user: `user-${users}-${process.pid}`,
        env: table.environmentId,
        issuer,
      };
      const spec = host.spec;
      const config: NativeClientConfig = {
        environmentId: table.environmentId,
        apiBaseUrl: emulator.apiBaseUrl,
      };
      const handle = await spec.createClient(config);
      const events = new EventQueue(spec, handle);
      try {
        for (const [index, step] of scenario.steps.entries()) {
          await runStep(spec, handle, step, events, ctx, index);
        }
        expect(await events.take(0)).toEqual([]);
      } finally {
        events.close();
        await spec.logout(handle).catch(() => {});
        spec.disposeClient(handle);
      }
    }
  );
});
