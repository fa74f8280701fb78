import { mkdir, rm } from "node:fs/promises";
import { resolve } from "node:path";
import { createRoute, z } from "@hono/zod-openapi";
import type pg from "pg";
import { failIngestion, type Ingestion, INGESTION_STATUSES } from "../../pipeline/core/audit.ts";
import type { UploadServices } from "../deps.ts";
import { BadRequestError, errorResponse, HttpError, NotFoundError } from "../errors.ts";
import { wholeNumber } from "../params.ts";
import { QUERIES } from "../queries.ts";
import { newRouter } from "../router.ts";
import { place, receive, tooLarge } from "../upload.ts";

const UPLOAD_TYPES = ["text/csv", "text/plain", "application/octet-stream"];

const RecordId = (what: string) =>
  z
    .string()
    .regex(/^\d{1,15}$/, `must be ${what} (a whole number)`)
    .transform(Number);

/** A plain file name for landing/: nothing that could name another folder, nothing hidden. */
const FileName = z
  .string()
  .min(1, "must not be empty")
  .max(200, "must be at most 200 characters")
  .refine((s) => !/[/\\\x00-\x1f\x7f]/.test(s), "must be a plain file name: no /, \\ or control characters")
  // Format characters are invisible, and the bidirectional ones reorder what a listing shows:
  // "photo\u202Evsc.exe" shows as "photoexe.csv" in a listing.
  .superRefine((s, ctx) => {
    const found = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.exec(s)?.[0];
    if (found !== undefined) {
      const code = `U+${found.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
      ctx.addIssue({
        code: "custom",
        message: `must not contain invisible or text-direction characters (found ${code})`,
      });
    }
  })
  .refine((s) => !s.startsWith("."), "must not start with a dot")
  .transform((s) => (/\.csv$/i.test(s) ? s : `${s}.csv`));

const IngestionView = z.object({
  id: z.number(),
  file_name: z.string(),
  sha256: z.string(),
  size_bytes: z.number(),
  status: z.enum(INGESTION_STATUSES),
  rows_loaded: z.number(),
  rows_rejected: z.number(),
  error: z.string().nullable(),
  started_at: z.string().openapi({ format: "date-time" }),
  finished_at: z.string().nullable().openapi({ format: "date-time" }),
  duration_ms: z.number().nullable().openapi({ description: "finished_at - started_at; null until finished" }),
  duplicate_of: z.number().nullable(),
  archived_as: z.string().nullable(),
  last_event: z
    .object({
      id: z.number(),
      type: z.string(),
      stage: z.string(),
      payload: z.record(z.string(), z.unknown()),
      created_at: z.string(),
    })
    .nullable(),
});

const Upload = z.object({
  ingestion_id: z.number(),
  status: z.enum(["queued", "skipped"]),
  file_name: z.string(),
  sha256: z.string(),
  size_bytes: z.number(),
  duplicate_of: z.number().nullable(),
  events: z.string().openapi({ description: "the ingestion's audit events as server-sent events, from the first" }),
});

const IdParam = z.object({ id: RecordId("an ingestion id").openapi({ param: { name: "id", in: "path" } }) });

const listRoute = createRoute({
  method: "get",
  path: "/ingestions",
  summary: "Ingestions, newest first, with their last audit event; page with ?before=<next_before>",
  request: {
    query: z.object({
      limit: wholeNumber(1, 500).default(50).openapi({ description: "at most this many (1..500, default 50)" }),
      before: RecordId("an ingestion id")
        .optional()
        .openapi({ description: "only ingestions with a smaller id (the previous page's next_before)" }),
    }),
  },
  responses: {
    200: {
      description: "a page of ingestions",
      content: {
        "application/json": {
          schema: z.object({ ingestions: z.array(IngestionView), next_before: z.number().nullable() }),
        },
      },
    },
    400: errorResponse("invalid parameter"),
  },
});

const oneRoute = createRoute({
  method: "get",
  path: "/ingestions/{id}",
  summary: "One ingestion: status, file, sha256, rows loaded and rejected, timings, last event",
  request: { params: IdParam },
  responses: {
    200: { description: "the ingestion", content: { "application/json": { schema: IngestionView } } },
    400: errorResponse("invalid id"),
    404: errorResponse("no such ingestion"),
  },
});

const rejectsRoute = createRoute({
  method: "get",
  path: "/ingestions/{id}/rejects",
  summary: "The lines of an ingestion that could not become trips, in line order; page with ?after=<next_after>",
  request: {
    params: IdParam,
    query: z.object({
      limit: wholeNumber(1, 1000).default(100).openapi({ description: "at most this many (1..1000, default 100)" }),
      after: RecordId("a line number")
        .optional()
        .openapi({ description: "only lines after this one (the previous page's next_after)" }),
    }),
  },
  responses: {
    200: {
      description: "a page of rejected lines",
      content: {
        "application/json": {
          schema: z.object({
            ingestion_id: z.number(),
            rejects: z.array(z.object({ line_no: z.number(), raw: z.string(), reason: z.string() })),
            next_after: z.number().nullable(),
          }),
        },
      },
    },
    400: errorResponse("invalid parameter"),
    404: errorResponse("no such ingestion"),
  },
});

const uploadRoute = createRoute({
  method: "post",
  path: "/ingestions",
  summary: "Upload a CSV file: it is streamed into the landing folder and ingested like a dropped file",
  description:
    "The body is the file (text/csv, text/plain or application/octet-stream), streamed to a hidden temporary file " +
    "and renamed into the landing folder once complete. 202 with the new ingestion's id; 200 when the same content " +
    "was ingested before (skipped); 413 beyond UPLOAD_MAX_BYTES.",
  request: {
    query: z.object({
      name: FileName.optional().openapi({
        description: "file name in landing/ (.csv appended when missing); default upload-<time>.csv",
      }),
    }),
    body: { content: { "text/csv": { schema: z.string().openapi({ format: "binary" }) } }, required: true },
  },
  responses: {
    202: { description: "accepted: queued for ingestion", content: { "application/json": { schema: Upload } } },
    200: {
      description: "the same content was ingested before: skipped",
      content: { "application/json": { schema: Upload } },
    },
    400: errorResponse("invalid name or empty body"),
    413: errorResponse("larger than UPLOAD_MAX_BYTES"),
    415: errorResponse("not a CSV content type"),
  },
});

type IngestionRow = Pick<
  Ingestion,
  | "id"
  | "file_name"
  | "sha256"
  | "size_bytes"
  | "status"
  | "rows_loaded"
  | "rows_rejected"
  | "error"
  | "started_at"
  | "finished_at"
  | "duplicate_of"
  | "archived_as"
> & {
  duration_ms: number | null;
  event_id: number | null;
  event_type: string;
  event_stage: string;
  event_payload: Record<string, unknown>;
  event_created_at: Date;
};

/**
 * Ingestions newest first with their newest event (db/queries/ingestions.sql): only `id`, or only
 * those below `before`, or all; at most `limit`.
 */
async function selectIngestions(pool: pg.Pool, page: { id?: number; before?: number; limit: number }) {
  const { rows } = await pool.query<IngestionRow>(QUERIES.ingestions, [
    page.id ?? null,
    page.before ?? null,
    page.limit,
  ]);
  return rows;
}

type RejectRow = { line_no: number; raw: string; reason: string };

/** An ingestion's rejected lines after line `after` (or from the first), in line order, at most `limit`. */
async function selectRejects(pool: pg.Pool, page: { id: number; after?: number; limit: number }): Promise<RejectRow[]> {
  const { rows } = await pool.query<RejectRow>(QUERIES.ingestionRejects, [page.id, page.after ?? null, page.limit]);
  return rows;
}

function view(r: IngestionRow): z.infer<typeof IngestionView> {
  const { event_id, event_type, event_stage, event_payload, event_created_at, ...i } = r;
  return {
    ...i,
    started_at: i.started_at.toISOString(),
    finished_at: i.finished_at?.toISOString() ?? null,
    last_event:
      event_id === null
        ? null
        : {
            id: event_id,
            type: event_type,
            stage: event_stage,
            payload: event_payload,
            created_at: event_created_at.toISOString(),
          },
  };
}

/**
 * /ingestions: the list, one ingestion, its rejected lines, and uploads. An upload is streamed to a
 * hidden file in the landing folder and registered through `uploads` (the landing stage's services):
 * new content is placed in landing for the watcher, a duplicate goes to the archive at once.
 */
export function ingestionsRoutes(deps: {
  pool: pg.Pool;
  landingDir: string;
  uploadMaxBytes: number;
  uploads: UploadServices;
}) {
  const { pool, uploadMaxBytes: max, uploads } = deps;
  const landing = resolve(deps.landingDir);

  return newRouter()
    .openapi(listRoute, async (c) => {
      const { limit, before } = c.req.valid("query");
      const rows = await selectIngestions(pool, { before, limit: limit + 1 });
      const page = rows.slice(0, limit).map(view);
      return c.json({ ingestions: page, next_before: rows.length > limit ? page[limit - 1]!.id : null }, 200);
    })
    .openapi(oneRoute, async (c) => {
      const { id } = c.req.valid("param");
      const [row] = await selectIngestions(pool, { id, limit: 1 });
      if (!row) throw new NotFoundError(`no ingestion ${id}`);
      return c.json(view(row), 200);
    })
    .openapi(rejectsRoute, async (c) => {
      const { id } = c.req.valid("param");
      const { limit, after } = c.req.valid("query");
      const { rowCount } = await pool.query("SELECT 1 FROM audit.ingestions WHERE id = $1::bigint", [id]);
      if (!rowCount) throw new NotFoundError(`no ingestion ${id}`);
      const rows = await selectRejects(pool, { id, after, limit: limit + 1 });
      const page = rows.slice(0, limit);
      return c.json(
        { ingestion_id: id, rejects: page, next_after: rows.length > limit ? page[limit - 1]!.line_no : null },
        200,
      );
    })
    .openapi(uploadRoute, async (c) => {
      const { name } = c.req.valid("query");
      const type = (c.req.header("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
      if (!UPLOAD_TYPES.includes(type))
        throw new HttpError(
          415,
          "unsupported_media_type",
          `Content-Type must be ${UPLOAD_TYPES.join(", ")} (got ${type || "none"})`,
        );
      // Refused before a byte is read when the client announces its size.
      if (Number(c.req.header("content-length") ?? 0) > max) throw tooLarge(max);
      const body = c.req.raw.body;
      if (!body) throw new BadRequestError("the request body is empty: send the CSV file", "empty_body");
      const fileName = name ?? `upload-${new Date().toISOString().replace(/:/g, "-")}.csv`;

      await mkdir(landing, { recursive: true });
      const { tmp, sha256, size } = await receive(body, landing, max);
      let registered;
      try {
        registered = await uploads.registerUpload(fileName, sha256, size);
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
      }
      const { ingestion, duplicate } = registered;
      const answer = (status: "queued" | "skipped", file: string) => ({
        ingestion_id: ingestion.id,
        status,
        file_name: file,
        sha256,
        size_bytes: size,
        duplicate_of: ingestion.duplicate_of,
        events: `/events?ingestion=${ingestion.id}&after=0`,
      });

      if (duplicate) {
        await uploads.archiveFile(tmp, ingestion).finally(() => rm(tmp, { force: true }));
        return c.json(answer("skipped", fileName), 200);
      }
      // The watcher finds the file, computes the same sha256 and continues this queued row.
      let placed;
      try {
        placed = await place(tmp, landing, [fileName, `${fileName.replace(/\.csv$/i, "")}-${ingestion.id}.csv`]);
      } catch (err) {
        await rm(tmp, { force: true });
        await failIngestion(
          pool,
          ingestion.id,
          `the upload could not be placed in the landing folder: ${(err as Error).message}`,
        );
        throw err;
      }
      if (placed !== fileName)
        await pool.query(
          "UPDATE audit.ingestions SET file_name = $2::text WHERE id = $1::bigint AND status = 'queued'",
          [ingestion.id, placed],
        );
      return c.json(answer("queued", placed), 202, { Location: `/ingestions/${ingestion.id}` });
    });
}
