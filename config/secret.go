package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"sync/atomic"

	"gopkg.in/yaml.v3"
)

// Secret is a credential, given in the configuration or read from a file
// (a `*_file` key: Kubernetes and Docker secrets). A file's secret is read
// again by ReloadSecrets, and every copy of the Secret sees the new value,
// so that rotating it needs no restart. It never prints, logs or marshals
// its value. The zero Secret is empty.
type Secret struct{ c *secretCell }

type secretCell struct {
	value atomic.Value // string
	file  string
}

const redacted = "<secret>"

// NewSecret returns a secret given by value.
func NewSecret(v string) Secret {
	c := &secretCell{}
	c.value.Store(v)
	return Secret{c}
}

// Secrets returns secrets given by value.
func Secrets(vs ...string) []Secret {
	out := make([]Secret, len(vs))
	for i, v := range vs {
		out[i] = NewSecret(v)
	}
	return out
}

// Value returns the secret itself, as it is now, for the few places that
// must use it. Read it where it is used, not once ahead: a file's secret
// may be rotated meanwhile.
func (s Secret) Value() string {
	if s.c == nil {
		return ""
	}
	v, _ := s.c.value.Load().(string)
	return v
}

// File is the file the secret is read from, or "".
func (s Secret) File() string {
	if s.c == nil {
		return ""
	}
	return s.c.file
}

// IsZero reports an empty secret (yaml's omitempty asks).
func (s Secret) IsZero() bool { return s.Value() == "" }

// String implements fmt.Stringer without revealing the value.
func (s Secret) String() string { return redacted }

// GoString keeps %#v from revealing the value.
func (s Secret) GoString() string { return redacted }

// Format keeps every other verb (%d, %x, %q…) from revealing the value.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalYAML implements yaml.Marshaler.
func (s Secret) MarshalYAML() (any, error) { return redacted, nil }

// MarshalText implements encoding.TextMarshaler (JSON included).
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// UnmarshalYAML implements yaml.Unmarshaler: a value, or {file: path}, to
// which the loader rewrites a `*_file` key.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*s = NewSecret(n.Value)
		return nil
	}
	var ref struct {
		File string `yaml:"file"`
	}
	if err := n.Decode(&ref); err != nil || ref.File == "" {
		return errors.New("want a secret, or {file: path}")
	}
	v, err := readSecretFile(ref.File)
	if err != nil {
		return err
	}
	c := &secretCell{file: ref.File}
	c.value.Store(v)
	*s = Secret{c}
	return nil
}

// maxSecretFile bounds a secret file: keys and tokens are short, and a
// private key is a few KiB.
const maxSecretFile = 64 << 10

// readSecretFile reads a secret file, without the line break that editors
// and `echo` add.
func readSecretFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxSecretFile {
		return "", fmt.Errorf("%s is over %d KiB", path, maxSecretFile>>10)
	}
	b = bytes.TrimRight(b, "\r\n")
	if len(bytes.TrimSpace(b)) == 0 {
		return "", fmt.Errorf("%s is empty", path)
	}
	return string(b), nil
}

// SecretFiles are the files the configuration's secrets are read from.
func (c *Config) SecretFiles() []string {
	var files []string
	seen := map[string]bool{}
	eachSecret(reflect.ValueOf(c), func(s Secret) {
		if f := s.File(); f != "" && !seen[f] {
			seen[f] = true
			files = append(files, f)
		}
	})
	return files
}

// ReloadSecrets reads every secret file again and returns those whose
// secret changed. A file that cannot be read, or is empty (a rotation
// half-written), keeps the secret it had: its error is returned, and the
// next reload tries again.
func (c *Config) ReloadSecrets() (changed []string, err error) {
	var errs []error
	done := map[*secretCell]bool{}
	eachSecret(reflect.ValueOf(c), func(s Secret) {
		if s.File() == "" || done[s.c] {
			return
		}
		done[s.c] = true
		v, rerr := readSecretFile(s.c.file)
		switch {
		case rerr != nil:
			errs = append(errs, rerr)
		case v != s.Value():
			s.c.value.Store(v)
			changed = append(changed, s.c.file)
		}
	})
	return changed, errors.Join(errs...)
}

var secretType = reflect.TypeFor[Secret]()

// eachSecret calls fn with every Secret in v: fields, elements, and what
// pointers point to.
func eachSecret(v reflect.Value, fn func(Secret)) {
	switch {
	case v.Type() == secretType:
		fn(v.Interface().(Secret))
	case v.Kind() == reflect.Pointer:
		if !v.IsNil() {
			eachSecret(v.Elem(), fn)
		}
	case v.Kind() == reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				eachSecret(v.Field(i), fn)
			}
		}
	case v.Kind() == reflect.Slice:
		for i := range v.Len() {
			eachSecret(v.Index(i), fn)
		}
	}
}
