import { beforeEach, describe, expect, it, jest } from '@jest/globals';
import {
  androidRejection,
  bridge,
  fakeNative,
  iosRejection,
  rejection,
  resetFake,
  fake,
} from './fakeNative';
import {
  createDynamicClient,
  DynamicError,
  ERROR_CODES,
  ERROR_CODE_DESCRIPTIONS,
  toDynamicError,
} from '../index';

jest.mock('../NativeDynamicByoa', () => ({
  __esModule: true,
  MODULE_NAME: 'DynamicByoa',
  default: require('./fakeNative').fakeNative,
}));

const ENV = '2762a57b-faa4-41ce-9f16-abff9300e2c9';
const params = { externalJwt: 'a.b.c', externalUserId: 'user-1' };

beforeEach(() => {
  resetFake();
});

describe('the code union', () => {
  it('is exactly the Rust list, in order', () => {
    expect([...ERROR_CODES]).toEqual(bridge.errorCodes);
  });

  it('describes every code and nothing else', () => {
    expect(Object.keys(ERROR_CODE_DESCRIPTIONS).sort()).toEqual(
      [...bridge.errorCodes].sort()
    );
  });

  it('has a bridge sample of every code', () => {
    expect(bridge.rejections.map((r) => r.code)).toEqual(bridge.errorCodes);
  });
});

describe.each([
  ['Android', androidRejection],
  ['iOS', iosRejection],
])('a rejection in the %s shape', (_platform, shape) => {
  it.each(bridge.rejections.map((r) => [r.code, r] as const))(
    "%s becomes a DynamicError with the core's code, category and fields",
    async (code, sample) => {
      expect(fakeNative).toBeDefined();
      fake().native.signInWithExternalJwt.mockRejectedValueOnce(shape(sample));
      const client = createDynamicClient({ environmentId: ENV });
      const error = await client.auth.external
        .signInWithExternalJwt(params)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DynamicError);
      const e = error as DynamicError;
      expect(e.name).toBe('DynamicError');
      expect(e.code).toBe(code);
      expect(e.nativeCode).toBe(code);
      expect(e.message).toBe(sample.message);
      expect(e.category).toBe(sample.userInfo.category);
      expect(e.isRetryable).toBe(sample.userInfo.isRetryable);
      const fields = Object.fromEntries(
        Object.entries(sample.userInfo).filter(
          ([key]) => !['code', 'category', 'isRetryable'].includes(key)
        )
      );
      expect(e.details).toEqual(fields);
      expect(e.userInfo).toEqual(sample.userInfo);
    }
  );
});

describe('structured extras', () => {
  it('rate_limited carries retryAfterSeconds', () => {
    const e = toDynamicError(androidRejection(rejection('rate_limited')));
    expect(e.retryAfterSeconds).toBe(30);
    expect(e.category).toBe('retry_later');
    expect(e.isRetryable).toBe(true);
  });

  it('external_auth_rejected carries the reason and the server text', () => {
    const e = toDynamicError(iosRejection(rejection('external_auth_rejected')));
    expect(e.reason).toBe('issuer');
    expect(e.serverDetail).toBe('Issuer (iss) does not match');
    expect(e.category).toBe('rejected');
  });

  it('storage_unavailable carries the cause', () => {
    const e = toDynamicError(iosRejection(rejection('storage_unavailable')));
    expect(e.details.cause).toEqual({
      kind: 'failed',
      detail: 'keystore entry corrupted',
    });
    expect(e.category).toBe('sign_in_again');
  });

  it('keeps the native error as the cause', () => {
    const native = androidRejection(rejection('network'));
    expect((toDynamicError(native) as { cause?: unknown }).cause).toBe(native);
  });
});

describe('the fallbacks', () => {
  it("an unknown code reads as internal, keeps the received code and the core's category", () => {
    const e = toDynamicError(
      Object.assign(new Error('a newer core said so'), {
        code: 'brand_new_code',
        userInfo: {
          code: 'brand_new_code',
          category: 'retry_later',
          isRetryable: true,
        },
      })
    );
    expect(e.code).toBe('internal');
    expect(e.nativeCode).toBe('brand_new_code');
    expect(e.category).toBe('retry_later');
    expect(e.isRetryable).toBe(true);
  });

  it('an unknown code without a category is a bug, not retryable', () => {
    const e = toDynamicError({ code: 'mystery', message: 'm' });
    expect(e.code).toBe('internal');
    expect(e.category).toBe('bug');
    expect(e.isRetryable).toBe(false);
  });

  it('a plain JavaScript error is internal', () => {
    const e = toDynamicError(new TypeError('x is not a function'));
    expect(e.code).toBe('internal');
    expect(e.message).toContain('x is not a function');
    expect(e.category).toBe('bug');
  });

  it('a thrown non-error is internal', () => {
    expect(toDynamicError('boom').code).toBe('internal');
  });

  it('reads a userInfo sent as JSON text', () => {
    const sample = rejection('jwt_expired');
    const e = toDynamicError({
      code: sample.code,
      message: sample.message,
      userInfo: JSON.stringify(sample.userInfo),
    });
    expect(e.details.expiredAtMs).toBe(1700000000000);
    expect(e.category).toBe('invalid_input');
  });

  it('takes the code from userInfo when the error has none', () => {
    const sample = rejection('unauthorized');
    const e = toDynamicError({
      message: sample.message,
      userInfo: sample.userInfo,
    });
    expect(e.code).toBe('unauthorized');
  });

  it('returns a DynamicError as is', () => {
    const e = toDynamicError(androidRejection(rejection('internal')));
    expect(toDynamicError(e)).toBe(e);
  });
});
