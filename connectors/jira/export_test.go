package jira

import "time"

// SetEnqueue replaces how follow-on jobs are inserted, for tests that run
// the worker without River.
func SetEnqueue(w *FileWorker, fn EnqueueFunc) { w.enqueue = fn }

// SetSearchLag replaces the configured lag, for tests.
func SetSearchLag(w *FileWorker, d time.Duration) { w.searchLag = d }
