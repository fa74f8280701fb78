import { OpenAPIHono } from "@hono/zod-openapi";
import { errorBody } from "./errors.ts";

/** A validation failure answers 400 naming the parameter, never a 500. */
export function newRouter() {
  return new OpenAPIHono({
    defaultHook: (result, c) => {
      if (!result.success) {
        const issue = result.error.issues[0]!;
        const name = issue.path.join(".") || "request";
        return c.json(errorBody("invalid_parameter", `${name}: ${issue.message}`), 400);
      }
    },
  });
}
