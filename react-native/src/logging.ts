/**
 * The core's log lines (redacted in Rust: never a token or a piece of one), routed to `console`
 * or to the app's own logger. Per process, for every client; off by default.
 */
import type { EventSubscription } from 'react-native';
import { invalidArgument } from './errors';
import { nativeModule } from './native';
import type { LogLevel, LogLine } from './types';

export type Logger = (line: LogLine) => void;

const LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug', 'trace'];

/** Writes each line to the matching `console` method, prefixed with its target. */
export const consoleLogger: Logger = ({ level, target, message }) => {
  const text = `[${target}] ${message}`;
  if (level === 'error') console.error(text);
  else if (level === 'warn') console.warn(text);
  else if (level === 'info') console.info(text);
  else console.debug(text);
};

let subscription: EventSubscription | null = null;

/**
 * Sends the core's lines at `level` (default `warn`) and above to `logger`; `null` turns logging
 * off. `setLogger(consoleLogger, { level: 'debug' })` shows every HTTP request.
 */
export function setLogger(
  logger: Logger | null,
  options: { level?: LogLevel } = {}
): void {
  const level = options.level ?? 'warn';
  if (!LEVELS.includes(level)) {
    throw invalidArgument(
      'invalid_configuration',
      'level',
      `the log level must be one of ${LEVELS.join(', ')}`
    );
  }
  if (logger !== null && typeof logger !== 'function') {
    throw invalidArgument(
      'invalid_configuration',
      'logger',
      'the logger must be a function (line) => void, or null'
    );
  }
  const native = nativeModule();
  subscription?.remove();
  subscription = null;
  if (logger === null) {
    native.setLogLevel('off');
    return;
  }
  // Subscribe first: the module emits only once a level is set.
  subscription = native.onLog((event) => {
    const line: LogLine = {
      level: (LEVELS as readonly string[]).includes(event.level)
        ? (event.level as LogLevel)
        : 'info',
      target: event.target,
      message: event.message,
    };
    try {
      logger(line);
    } catch {
      // A failing logger must not break the client; there is nowhere better to report it.
    }
  });
  native.setLogLevel(level);
}
