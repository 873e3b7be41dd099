package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// decodeBudget bounds the nodes one document may make the decoder visit, aliases expanded: a
// real config has a few hundred, and a small file of nested aliases must not cost minutes.
const decodeBudget = 1 << 18

// decodeFile overlays the YAML document b onto c (see the package doc for the rules). It does
// not validate. Its errors carry no "config: " prefix.
func decodeFile(b []byte, c *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // no document at all: the default
		}
		return err
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		return fmt.Errorf("line %d: the file holds a second YAML document; a config is one document", extra.Line)
	case !errors.Is(err, io.EOF):
		return err
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil
		}
		root = root.Content[0]
	}
	d := &decoder{budget: decodeBudget, fields: map[reflect.Type]map[string]int{}}
	return d.document(root, c)
}

// decoder decodes yaml.Nodes into the config's types: strictly (an unknown key is an error),
// with durations in two forms, and keeping what a record's omitted fields already hold. It does
// what yaml.v3's Decoder with KnownFields(true) does, plus those.
type decoder struct {
	budget int
	// fields caches each struct type's yaml key → field index.
	fields map[reflect.Type]map[string]int
}

// nodeDecoder is implemented by config types whose YAML form differs from their Go shape.
type nodeDecoder interface {
	decodeNode(d *decoder, path string, n *yaml.Node) error
}

// defaulter is implemented by config types whose new entries (in a map or list) start from
// defaults rather than zero.
type defaulter interface {
	setDefaults()
}

var durationType = reflect.TypeFor[time.Duration]()

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if path != "" {
		msg = path + ": " + msg
	}
	if n != nil && n.Line > 0 {
		msg = fmt.Sprintf("line %d: %s", n.Line, msg)
	}
	return errors.New(msg)
}

// resolve follows aliases and spends budget.
func (d *decoder) resolve(n *yaml.Node) (*yaml.Node, error) {
	for i := 0; n.Kind == yaml.AliasNode; i++ {
		if n.Alias == nil || i > 100 {
			return nil, d.errorf(n, "", "alias *%s cannot be resolved", n.Value)
		}
		n = n.Alias
	}
	d.budget--
	if d.budget < 0 {
		return nil, d.errorf(n, "", "the document is too large once its aliases are expanded")
	}
	if !standardTag(n.ShortTag()) {
		return nil, d.errorf(n, "", "the tag %s is not supported in a config", n.Tag)
	}
	return n, nil
}

// standardTag reports whether a config may hold a node of tag t, explicit or resolved. An
// application tag (!env FOO) or !!binary would otherwise be taken as its plain text.
func standardTag(t string) bool {
	switch t {
	case "!!str", "!!int", "!!float", "!!bool", "!!null", "!!timestamp", "!!map", "!!seq", "!!merge":
		return true
	}
	return false
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// document decodes the top-level mapping: each named section overlays c.
func (d *decoder) document(root *yaml.Node, c *Config) error {
	root, err := d.resolve(root)
	if err != nil {
		return err
	}
	if isNull(root) {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		return d.errorf(root, "", "the document must be a mapping of sections (server:, schema:, …)")
	}
	v := reflect.ValueOf(c).Elem()
	idx := d.fieldIndex(v.Type())
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, err := d.key(root.Content[i], "")
		if err != nil {
			return err
		}
		if seen[key] {
			return d.errorf(root.Content[i], "", "section %q is given twice", key)
		}
		seen[key] = true
		val := root.Content[i+1]
		if key == "roles" {
			// Roles a file names are added to the built-in ones; Validate refuses a built-in
			// one redefined with other permissions.
			var roles map[string]Role
			if err := d.decode(key, val, reflect.ValueOf(&roles).Elem()); err != nil {
				return err
			}
			if c.Roles == nil {
				c.Roles = map[string]Role{}
			}
			for name, r := range roles {
				c.Roles[name] = r
			}
			continue
		}
		fi, ok := idx[key]
		if !ok {
			return d.errorf(root.Content[i], "", "unknown section %q", key)
		}
		if err := d.decode(key, val, v.Field(fi)); err != nil {
			return err
		}
	}
	return nil
}

// key reads a mapping key: a scalar that is not null.
func (d *decoder) key(n *yaml.Node, path string) (string, error) {
	n, err := d.resolve(n)
	if err != nil {
		return "", err
	}
	if n.Kind != yaml.ScalarNode || isNull(n) {
		return "", d.errorf(n, path, "a key must be a plain name")
	}
	if n.ShortTag() == "!!merge" {
		return "", d.errorf(n, path, "merge keys (<<) are not supported; repeat the fields or use an alias for a whole value")
	}
	return n.Value, nil
}

// fieldIndex maps a struct type's yaml keys to field indexes.
func (d *decoder) fieldIndex(t reflect.Type) map[string]int {
	if m, ok := d.fields[t]; ok {
		return m
	}
	m := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		m[name] = i
	}
	d.fields[t] = m
	return m
}

// newValue returns a fresh value of t for a new map or list entry, with t's defaults.
func newValue(t reflect.Type) reflect.Value {
	v := reflect.New(t).Elem()
	if df, ok := v.Addr().Interface().(defaulter); ok {
		df.setDefaults()
	}
	return v
}

// decode decodes n into v, which is settable. Records keep the fields n does not name; lists
// and maps are replaced; null empties lists, maps and scalars and leaves records alone.
func (d *decoder) decode(path string, n *yaml.Node, v reflect.Value) error {
	n, err := d.resolve(n)
	if err != nil {
		return err
	}
	if v.CanAddr() {
		if nd, ok := v.Addr().Interface().(nodeDecoder); ok {
			return nd.decodeNode(d, path, n)
		}
	}
	if v.Type() == durationType {
		return d.duration(path, n, v)
	}
	switch v.Kind() {
	case reflect.Struct:
		return d.record(path, n, v)
	case reflect.Pointer:
		if isNull(n) {
			v.SetZero()
			return nil
		}
		if v.IsNil() {
			v.Set(newValue(v.Type().Elem()).Addr())
		}
		return d.decode(path, n, v.Elem())
	case reflect.Slice:
		return d.list(path, n, v)
	case reflect.Map:
		return d.mapping(path, n, v)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			return d.errorf(n, path, "must be a string, not %s", kindName(n))
		}
		if isNull(n) {
			v.SetString("")
			return nil
		}
		v.SetString(n.Value)
		return nil
	case reflect.Bool:
		if isNull(n) {
			v.SetBool(false)
			return nil
		}
		var b bool
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
			return d.errorf(n, path, "must be true or false")
		}
		v.SetBool(b)
		return nil
	case reflect.Int, reflect.Int64:
		if isNull(n) {
			v.SetInt(0)
			return nil
		}
		var i int64
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil || v.OverflowInt(i) {
			return d.errorf(n, path, "must be a whole number")
		}
		v.SetInt(i)
		return nil
	}
	return d.errorf(n, path, "cannot be decoded into %s", v.Type()) // a bug: a field of a type decode does not know
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return "a scalar"
}

// duration decodes a Go duration string ("90s", "24h") or whole seconds (90).
func (d *decoder) duration(path string, n *yaml.Node, v reflect.Value) error {
	if isNull(n) {
		v.SetInt(0)
		return nil
	}
	bad := d.errorf(n, path, `must be a duration such as "90s" or "24h", or a whole number of seconds`)
	if n.Kind != yaml.ScalarNode {
		return bad
	}
	switch n.ShortTag() {
	case "!!int":
		var s int64
		if n.Decode(&s) != nil || s > math.MaxInt64/int64(time.Second) || s < math.MinInt64/int64(time.Second) {
			return bad
		}
		v.SetInt(s * int64(time.Second))
		return nil
	case "!!str":
		dur, err := time.ParseDuration(n.Value)
		if err != nil {
			return bad
		}
		v.SetInt(int64(dur))
		return nil
	}
	return bad
}

// record decodes a mapping into a struct, field by field; fields n does not name keep their
// values.
func (d *decoder) record(path string, n *yaml.Node, v reflect.Value) error {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return d.errorf(n, path, "must be a mapping, not %s", kindName(n))
	}
	idx := d.fieldIndex(v.Type())
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, err := d.key(n.Content[i], path)
		if err != nil {
			return err
		}
		fi, ok := idx[key]
		if !ok {
			return d.errorf(n.Content[i], path, "unknown field %q", key)
		}
		if seen[key] {
			return d.errorf(n.Content[i], path, "field %q is given twice", key)
		}
		seen[key] = true
		if err := d.decode(join(path, key), n.Content[i+1], v.Field(fi)); err != nil {
			return err
		}
	}
	return nil
}

// list decodes a sequence into a fresh slice.
func (d *decoder) list(path string, n *yaml.Node, v reflect.Value) error {
	if isNull(n) {
		v.SetZero()
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		return d.errorf(n, path, "must be a list, not %s", kindName(n))
	}
	s := reflect.MakeSlice(v.Type(), 0, len(n.Content))
	for i, item := range n.Content {
		e := newValue(v.Type().Elem())
		if err := d.decode(fmt.Sprintf("%s[%d]", path, i), item, e); err != nil {
			return err
		}
		s = reflect.Append(s, e)
	}
	v.Set(s)
	return nil
}

// mapping decodes a mapping into a fresh map keyed by name.
func (d *decoder) mapping(path string, n *yaml.Node, v reflect.Value) error {
	if isNull(n) {
		v.SetZero()
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return d.errorf(n, path, "must be a mapping, not %s", kindName(n))
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, err := d.key(n.Content[i], path)
		if err != nil {
			return err
		}
		kv := reflect.ValueOf(key)
		if m.MapIndex(kv).IsValid() {
			return d.errorf(n.Content[i], path, "%q is given twice", key)
		}
		e := newValue(v.Type().Elem())
		if err := d.decode(join(path, key), n.Content[i+1], e); err != nil {
			return err
		}
		m.SetMapIndex(kv, e)
	}
	v.Set(m)
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// decodeNode reads a role: a list of permission names.
func (r *Role) decodeNode(d *decoder, path string, n *yaml.Node) error {
	if isNull(n) {
		r.Perms = PermNone
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		return d.errorf(n, path, "must be a list of permissions, e.g. [read, write]")
	}
	var p Perms
	for _, item := range n.Content {
		item, err := d.resolve(item)
		if err != nil {
			return err
		}
		if item.Kind != yaml.ScalarNode {
			return d.errorf(item, path, "must be a list of permissions, e.g. [read, write]")
		}
		q, ok := ParsePermission(item.Value)
		if !ok {
			return d.errorf(item, path, "unknown permission %s (a role's permissions are read, write and manage)", strconv.Quote(item.Value))
		}
		if p.Has(q) {
			return d.errorf(item, path, "permission %q is listed twice", item.Value)
		}
		p |= q
	}
	r.Perms = p
	return nil
}
