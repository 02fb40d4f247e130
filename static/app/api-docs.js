// Renders the API reference with Swagger UI (built from the swagger-ui-dist npm package, served by the app itself,
// so it works offline and under the app's Content-Security-Policy without inline scripts).
(function () {
  var target = document.getElementById("api-reference");
  if (!target || typeof window.SwaggerUIBundle !== "function") {
    return;
  }
  target.textContent = "";
  window.SwaggerUIBundle({
    url: target.getAttribute("data-openapi-url"),
    domNode: target,
    deepLinking: false,
    tryItOutEnabled: false,
    defaultModelsExpandDepth: 0
  });
})();
