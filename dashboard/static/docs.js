// Starts Swagger UI on /docs (a file of its own: the Content-Security-Policy allows no inline
// script). No validator badge: it would call a third-party server.
(function () {
  "use strict";
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    validatorUrl: null,
    deepLinking: true,
  });
})();
