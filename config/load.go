package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with a configuration, at a key path.
type Problem struct {
	Path string
	Msg  string
}

func (p Problem) String() string {
	if p.Path == "" {
		return p.Msg
	}
	return p.Path + ": " + p.Msg
}

// Error lists every problem found in a configuration.
type Error struct {
	File     string
	Problems []Problem
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d problem(s)", e.File, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// LoadFile reads, expands, decodes and validates the file at path.
func LoadFile(path string) (*Config, error) {
	return loadFile(path, Parse)
}

// LoadFileForStore loads the file at path as LoadFile does, for a command
// that only opens the store (incidents list, deliveries replay, …): see
// ParseForStore.
func LoadFileForStore(path string) (*Config, error) {
	return loadFile(path, ParseForStore)
}

func loadFile(path string, parse func(string, []byte, func(string) (string, bool)) (*Config, error)) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return parse(path, data, os.LookupEnv)
}

// Parse decodes data (named file in errors). lookupEnv resolves ${NAME}.
func Parse(file string, data []byte, lookupEnv func(string) (string, bool)) (*Config, error) {
	return parse(file, data, lookupEnv, false)
}

// ParseForStore is Parse for a command that only opens the store, so that
// reading records needs the storage settings and not every webhook secret
// in the environment. Storage is checked as Parse checks it, and so is the
// rest of the file, except that an ${ENV} reference outside storage may
// name an unset variable: the value that names one is left empty, and
// the problems at it (an unset secret, an empty listen) are not reported.
// Such a configuration must never serve: serve loads with Parse.
func ParseForStore(file string, data []byte, lookupEnv func(string) (string, bool)) (*Config, error) {
	return parse(file, data, lookupEnv, true)
}

func parse(file string, data []byte, lookupEnv func(string) (string, bool), storeOnly bool) (*Config, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil && !errors.Is(err, io.EOF) {
		return nil, &Error{File: file, Problems: []Problem{{Msg: err.Error()}}}
	}
	cfg := Default()
	l := loader{lookupEnv: lookupEnv, unset: map[string]string{}, storeOnly: storeOnly, skipped: map[string]bool{},
		dir: filepath.Dir(file)}
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		doc := root.Content[0]
		l.expand(doc, "")
		l.check(doc, reflect.TypeFor[Config](), "")
		// Decode what can be decoded (a value of the wrong type keeps its
		// default) so that the semantic checks below run too: one run
		// reports every problem.
		if err := doc.Decode(&cfg); err != nil && len(l.problems) == 0 {
			l.problems = append(l.problems, Problem{Msg: err.Error()})
		}
	}
	cfg.applyDefaults()
	for _, path := range []*string{&cfg.Review.Template, appKey(&cfg)} {
		if path != nil {
			*path = l.resolve(*path)
		}
	}
	var problems []Problem
	for _, p := range l.problems {
		if !l.skipped[p.Path] {
			problems = append(problems, p)
		}
	}
	for _, p := range cfg.validate(l.unset) {
		if !coveredBy(p.Path, l.problems) && !l.skipped[p.Path] {
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		return nil, &Error{File: file, Problems: problems}
	}
	if len(l.skipped) > 0 {
		cfg.unknown = l.skipped
	}
	return &cfg, nil
}

// appKey is where the GitHub App's private key file is named, if an App
// is configured.
func appKey(cfg *Config) *string {
	if cfg.GitHub.App == nil {
		return nil
	}
	return &cfg.GitHub.App.PrivateKeyFile
}

// coveredBy reports whether a problem at path was already reported at it
// or at one of its parents (a wrongly typed value also fails validation).
func coveredBy(path string, reported []Problem) bool {
	for _, r := range reported {
		if r.Path == path || strings.HasPrefix(path, r.Path+".") || strings.HasPrefix(path, r.Path+"[") {
			return true
		}
	}
	return false
}

type loader struct {
	lookupEnv func(string) (string, bool)
	// unset maps a key path to the environment variable it named that was
	// not set, so that "empty secret" can say which variable to set.
	unset    map[string]string
	problems []Problem
	// storeOnly tolerates unset variables outside storage (ParseForStore);
	// skipped holds the key paths of the values that named one.
	storeOnly bool
	skipped   map[string]bool
	// dir is the configuration file's directory: relative paths in it
	// are relative to it.
	dir string
}

func (l *loader) add(path, format string, args ...any) {
	l.problems = append(l.problems, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expand replaces ${NAME} inside scalar values. Expanding after parsing,
// not in the raw text, keeps a secret that contains YAML syntax from
// changing the document's structure.
func (l *loader) expand(n *yaml.Node, path string) {
	switch n.Kind {
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "${") {
			return
		}
		n.Value = envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
			name := ref[2 : len(ref)-1]
			v, ok := l.lookupEnv(name)
			if !ok {
				l.unset[path] = name
			}
			return v
		})
		if _, ok := l.unset[path]; ok && l.storeOnly && path != "storage" && !strings.HasPrefix(path, "storage.") {
			// Empty, not a guessable remainder of "pre-${UNSET}".
			n.Value = ""
			delete(l.unset, path)
			l.skipped[path] = true
		}
		// An expanded value is always a string, whatever it looks like.
		if n.Tag == "" || n.Tag == "!!null" || n.Tag == "!!int" || n.Tag == "!!bool" || n.Tag == "!!float" {
			n.Tag = "!!str"
			n.Style = yaml.DoubleQuotedStyle
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			l.expand(n.Content[i+1], join(path, n.Content[i].Value))
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			l.expand(c, fmt.Sprintf("%s[%d]", path, i))
		}
	}
}

var durationType = reflect.TypeFor[time.Duration]()

// check walks the document against the Go type and reports unknown keys
// and values of the wrong type, each with its key path.
func (l *loader) check(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Tag == "!!null" {
		return
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == secretType:
		l.checkSecret(n, path)
	case t == durationType:
		var d time.Duration
		if n.Kind != yaml.ScalarNode || n.Decode(&d) != nil {
			l.add(path, "want a duration such as 30m or 2h, got %q", n.Value)
		}
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			l.add(path, "want a mapping")
			return
		}
		fields := yamlFields(t)
		l.secretFiles(n, fields, path)
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			f, ok := fields[key]
			if !ok {
				l.add(join(path, key), "unknown key (known: %s)", strings.Join(knownKeys(fields), ", "))
				continue
			}
			l.check(n.Content[i+1], f.Type, join(path, key))
		}
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			l.add(path, "want a mapping")
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if t.Elem().Kind() != reflect.Interface {
				l.check(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value))
			}
		}
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			l.add(path, "want a list")
			return
		}
		for i, c := range n.Content {
			l.check(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	default:
		if n.Kind != yaml.ScalarNode {
			l.add(path, "want a single %s value", t.Kind())
			return
		}
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			l.add(path, "want a %s, got %q", t.Kind(), n.Value)
		}
	}
}

// resolve makes a path in the configuration relative to its file's
// directory; "" stays "".
func (l *loader) resolve(path string) string {
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(l.dir, path)
}

// knownKeys are the keys a mapping of these fields may have: a secret's
// `<key>_file` too.
func knownKeys(fields map[string]reflect.StructField) []string {
	keys := sortedKeys(fields)
	for k, f := range fields {
		if isSecret(f.Type) {
			keys = append(keys, k+"_file")
		}
	}
	slices.Sort(keys)
	return keys
}

// isSecret: a secret, or a list of them, which `<key>_file` may give.
func isSecret(t reflect.Type) bool { return t == secretType || t == reflect.SliceOf(secretType) }

// secretFiles rewrites each `<key>_file: path` whose <key> is a secret (or
// a list of secrets) to the {file: path} form Secret decodes: the secret
// is read from the file, and again when it is rotated.
func (l *loader) secretFiles(n *yaml.Node, fields map[string]reflect.StructField, path string) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		base, ok := strings.CutSuffix(n.Content[i].Value, "_file")
		f, known := fields[base]
		if !ok || !known || !isSecret(f.Type) {
			continue
		}
		ref := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{
			{Kind: yaml.ScalarNode, Tag: "!!str", Value: "file"}, n.Content[i+1]}}
		var given *yaml.Node
		for j := 0; j+1 < len(n.Content); j += 2 {
			if n.Content[j].Value == base {
				given = n.Content[j+1]
			}
		}
		fileKey := join(path, n.Content[i].Value)
		if given != nil {
			if f.Type == secretType || given.Kind != yaml.SequenceNode {
				l.add(fileKey, "set %s or %s, not both", base, n.Content[i].Value)
			} else {
				// One more secret in the list (a rotation in progress).
				given.Content = append(given.Content, ref)
			}
			n.Content = slices.Delete(n.Content, i, i+2)
			i -= 2
			continue
		}
		if f.Type != secretType {
			ref = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{ref}}
		}
		n.Content[i].Value, n.Content[i+1] = base, ref
		// What expanding the path found (an unset variable) is reported
		// at the secret's key, as checkSecret reports the file.
		if v, ok := l.unset[fileKey]; ok {
			delete(l.unset, fileKey)
			l.unset[join(path, base)] = v
		}
		if l.skipped[fileKey] {
			delete(l.skipped, fileKey)
			l.skipped[join(path, base)] = true
		}
	}
}

// checkSecret checks a secret: a value, or {file: path}, whose file (a
// path relative to the configuration file's directory) must be readable
// and not empty.
func (l *loader) checkSecret(n *yaml.Node, path string) {
	if n.Kind == yaml.ScalarNode {
		return
	}
	if n.Kind != yaml.MappingNode || len(n.Content) != 2 || n.Content[0].Value != "file" || n.Content[1].Kind != yaml.ScalarNode {
		l.add(path, "want a secret, or {file: path}")
		return
	}
	file := n.Content[1]
	file.Value = l.resolve(file.Value)
	if name, unset := l.unset[path]; unset && file.Value == "" && !l.skipped[path] {
		l.add(path, "environment variable %s is not set (it names the secret's file)", name)
		return
	}
	if _, err := readSecretFile(file.Value); err != nil {
		if l.storeOnly && path != "storage" && !strings.HasPrefix(path, "storage.") {
			// A command that only opens the store runs where the hub's
			// secret files may not be mounted: the secret is left empty,
			// as an unset variable is (ParseForStore).
			*n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: ""}
			l.skipped[path] = true
			return
		}
		l.add(path, "%v", err)
	}
}

func yamlFields(t reflect.Type) map[string]reflect.StructField {
	fields := make(map[string]reflect.StructField, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			fields[name] = f
		}
	}
	return fields
}

func sortedKeys(m map[string]reflect.StructField) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
