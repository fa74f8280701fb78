import pino from "pino";
import type { Config } from "./config.ts";

export function createLogger(config: Pick<Config, "logLevel">): pino.Logger {
  return pino({ level: config.logLevel, base: undefined, timestamp: pino.stdTimeFunctions.isoTime });
}
