import type pg from "pg";
import type { Logger } from "pino";
import type { Ingestion } from "../pipeline/core/audit.ts";
import type { EventBus } from "../pipeline/core/bus.ts";
import type { Config } from "../pipeline/core/config.ts";

/**
 * What the upload route needs from the landing stage, handed over by the wiring (pipeline/services.ts
 * builds it with pipeline/landing/uploads.ts): the API never reaches into a stage itself.
 */
export type UploadServices = {
  /** Registers an upload's content: a new `queued` ingestion, or a duplicate of an earlier one. */
  registerUpload(
    fileName: string,
    sha256: string,
    sizeBytes: number,
  ): Promise<{ ingestion: Ingestion; duplicate: boolean }>;
  /** Moves a file to the archive for an ingestion and records it, as the archive step does. */
  archiveFile(path: string, ingestion: Pick<Ingestion, "id" | "file_name">): Promise<void>;
};

/** Everything the HTTP app is built from; each route takes only the part it uses. */
export type AppDeps = {
  pool: pg.Pool;
  /**
   * The box queries' own pool (api/box_sessions.ts createBoxPool): BOX_CONNECTIONS connections with
   * their own session settings, never closed for idleness.
   */
  boxPool: pg.Pool;
  bus: EventBus;
  config: Pick<Config, "landingDir" | "uploadMaxBytes" | "apiToken" | "corsOrigins" | "stallMs">;
  logger: Logger;
  uploads: UploadServices;
};
