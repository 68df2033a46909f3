//go:build race

package main

// raceDetector: this test binary, which the end-to-end tests also run as
// the hub, is built with the race detector, whose shadow memory several
// times the heap's makes memory figures larger.
const raceDetector = true
