package httpclient

// Jittered exposes the backoff for tests.
var Jittered = jittered
