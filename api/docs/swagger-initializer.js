// Swagger UI on GET /docs (api/routes/docs.ts serves this file and the swagger-ui-dist files it uses):
// the API's own document, with "Try it out" open on every operation.
window.addEventListener("load", () => {
  window.ui = window.SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    tryItOutEnabled: true,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
