package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// age is a duration flag that also takes days and weeks (30d, 2w), as
// people say how long ago something was; Go's units (12h, 90m) work too.
type age time.Duration

func (a *age) String() string { return time.Duration(*a).String() }
func (a *age) Type() string   { return "age" }

// Set reads 30d, 2w or a Go duration; negative ages are refused.
func (a *age) Set(s string) error {
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			v, err := strconv.Atoi(n)
			if err != nil || v < 0 {
				return fmt.Errorf("want an age such as 30d, 2w or 12h, got %q", s)
			}
			*a = age(time.Duration(v) * unit)
			return nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return fmt.Errorf("want an age such as 30d, 2w or 12h, got %q", s)
	}
	*a = age(d)
	return nil
}
