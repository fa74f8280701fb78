import type pg from "pg";
import type { Ingestion } from "../core/audit.ts";
import type { Archive } from "./archive.ts";
import { registerIngestion } from "./register.ts";

/**
 * The landing stage's services for HTTP uploads (api/routes/ingestions.ts): registration as an upload,
 * and the archive step for an upload whose content was ingested before.
 *
 * @example createApp({ ...deps, uploads: uploadServices(pool, archive) });
 */
export function uploadServices(pool: pg.Pool, archive: Archive) {
  return {
    async registerUpload(fileName: string, sha256: string, sizeBytes: number) {
      const { ingestion, action } = await registerIngestion(pool, fileName, sha256, sizeBytes, "upload");
      return { ingestion, duplicate: action !== "load" };
    },
    archiveFile: (path: string, ingestion: Pick<Ingestion, "id" | "file_name">) =>
      archive.move(path, ingestion, "archive"),
  };
}
