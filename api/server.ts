import { serve, type ServerType } from "@hono/node-server";
import type { Logger } from "pino";
import type { createApp } from "./app.ts";

/**
 * The only place that opens a port. Resolves once listening; a taken port rejects with a clear error.
 *
 * @example const server = await listen(app, { port: 3000, host: "0.0.0.0" }, logger);
 */
export function listen(
  app: ReturnType<typeof createApp>,
  options: { port: number; host: string },
  logger: Logger,
): Promise<ServerType> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port: options.port, hostname: options.host }, (info) => {
      logger.info(
        { component: "api", port: info.port, host: options.host },
        `HTTP API on http://localhost:${info.port}`,
      );
      resolve(server);
    });
    server.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EADDRINUSE")
        reject(new Error(`port ${options.port} is already in use: stop the other process or set PORT to a free port`));
      else reject(err);
    });
  });
}
