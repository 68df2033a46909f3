package jira

import "time"

// SetSearchLag replaces the configured lag, for tests.
func SetSearchLag(w *FileWorker, d time.Duration) { w.searchLag = d }
