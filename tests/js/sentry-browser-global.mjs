// The entry esbuild bundles for the Chromium test: @sentry/browser 11 ships no CDN bundle in
// its npm package, so the test builds one that exposes the SDK as the global `Sentry`.
import * as Sentry from "@sentry/browser";

window.Sentry = Sentry;
