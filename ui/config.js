// Settings of the Hephaestus web UI. Every key is optional: delete this file
// or leave a key out and the default in app.js applies.
export default {
  // Host (and port) shown in the pull command, e.g. 'registry.example.org'.
  // Empty: the host the page was loaded from (location.host).
  registryHost: '',
  // Repositories asked for per /v2/_catalog request (n=); the list follows
  // the Link header page by page. A `?pageSize=N` query overrides it.
  catalogPageSize: 100,
  // Rows shown before a "Show more" button (repository list and tag table).
  rowsShown: 200,
  // Requests for tag counts, manifests and configs in flight at once.
  concurrency: 4,
};
