import { z } from "@hono/zod-openapi";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/** An error a client can act on: its status, a stable code and a message naming what was wrong. */
export class HttpError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "HttpError";
  }
}

export class BadRequestError extends HttpError {
  constructor(message: string, code = "invalid_request") {
    super(400, code, message);
  }
}

export class NotFoundError extends HttpError {
  constructor(message: string) {
    super(404, "not_found", message);
  }
}

export function errorBody(code: string, message: string) {
  return { error: { code, message } };
}

/** The schema of `errorBody`, for the OpenAPI document. */
const ErrorBody = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

/**
 * An error response of a route's OpenAPI description.
 *
 * @example responses: { 404: errorResponse("no such ingestion") }
 */
export const errorResponse = (description: string) => ({
  description,
  content: { "application/json": { schema: ErrorBody } },
});
