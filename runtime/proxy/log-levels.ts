/**
 * The proxy's log levels, as Envoy's admin `/logging` sets them: one for every logger
 * (`?level=debug`), or one logger's (`?rbac=debug`). Only the loggers named in LOGGERS write
 * anything of their own (the `rbac` logger: dry-run results, dry-run-report.ts).
 */
export const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LEVELS)[number];
/** The loggers `/logging?<name>=<level>` may set. */
export const LOGGERS = ['rbac'] as const;
export type Logger = (typeof LOGGERS)[number];

export const isLevel = (v: string): v is LogLevel => (LEVELS as readonly string[]).includes(v);
export const isLogger = (v: string): v is Logger => (LOGGERS as readonly string[]).includes(v);

export class LogLevels {
  private readonly byLogger = new Map<Logger, LogLevel>();

  constructor(
    private all: LogLevel = 'info',
    /** Where lines go (a test may collect them). @default stderr */
    public write: (line: string) => void = (line) => void process.stderr.write(`${line}\n`),
  ) {}

  /** Every logger's level (as Envoy's `?level=`, which sets them all), or one logger's. */
  set(level: LogLevel, logger?: Logger): void {
    if (logger) this.byLogger.set(logger, level);
    else {
      this.all = level;
      this.byLogger.clear();
    }
  }

  of(logger: Logger): LogLevel {
    return this.byLogger.get(logger) ?? this.all;
  }

  /** The loggers set apart from the rest, for `/logging`'s answer. */
  overrides(): Array<[Logger, LogLevel]> {
    return [...this.byLogger];
  }

  enabled(logger: Logger, level: LogLevel): boolean {
    return LEVELS.indexOf(level) >= LEVELS.indexOf(this.of(logger));
  }

  /** A line in the proxy's log format (`<time> <level> envoy <logger> <message>`), when `logger` is at `level` or finer. */
  log(logger: Logger, level: LogLevel, message: string): void {
    if (this.enabled(logger, level)) this.write(`${new Date().toISOString()} ${level} envoy ${logger} ${message}`);
  }
}
