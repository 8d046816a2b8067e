package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ecrsync/ecrsync/internal/awsname"
	"github.com/ecrsync/ecrsync/internal/awsregion"
)

// maxValues bounds the values a document may expand to through YAML aliases (a few aliased
// lists of aliases would otherwise make a small document decode to billions of destinations).
const maxValues = 100_000

// decoder fills a Config from the YAML node tree, not from a generic decode: a scalar keeps the
// text it was written as (an unquoted 012345678901 is not a number to YAML's resolver: it would
// be 1.2345679e+10, and 011111111111 octal), and every error names the field's path and line.
// JSON documents are YAML too, and go through the same checks.
type decoder struct {
	values int
	lines  map[string]int           // field path -> line, for Validate's errors
	fields map[reflect.Type][]field // each struct type's keys, listed once
}

// decode parses data into c.
func decode(data []byte, c *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // empty: Validate says what is missing
		}
		return fmt.Errorf("config is not YAML or JSON: %w", err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		return &FieldError{Line: next.Line, Msg: "a second YAML document (after ---): give one config per file"}
	}
	d := &decoder{lines: map[string]int{}, fields: map[reflect.Type][]field{}}
	n := &root
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		n = n.Content[0]
	}
	if err := d.value(n, reflect.ValueOf(c).Elem(), ""); err != nil {
		return err
	}
	c.lines = d.lines
	return nil
}

// field is one key a mapping accepts.
type field struct {
	name  string
	index []int
}

// fields lists the keys of a struct type by their json tags, in order, with embedded structs'
// keys in place (a Destination's registry, account_id... come from Registry).
func fields(t reflect.Type) []field {
	var out []field
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case f.Anonymous && name == "":
			for _, e := range fields(f.Type) {
				out = append(out, field{e.name, append([]int{i}, e.index...)})
			}
		case f.IsExported() && name != "-" && name != "":
			out = append(out, field{name, []int{i}})
		}
	}
	return out
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// value decodes n into v (a struct, slice, string or bool of the Config's types).
func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) error {
	if d.values++; d.values > maxValues {
		return &FieldError{Field: path, Line: n.Line, Msg: fmt.Sprintf("the document expands to more than %d values (YAML aliases?)", maxValues)}
	}
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if path != "" {
		if _, ok := d.lines[path]; !ok {
			d.lines[path] = n.Line
		}
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		v.SetZero()
		return nil
	}
	bad := func(format string, a ...any) error {
		return &FieldError{Field: path, Line: n.Line, Msg: fmt.Sprintf(format, a...)}
	}
	switch v.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return bad("want a mapping (key: value lines, or {...}), not %s", describe(n))
		}
		return d.mapping(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return bad("want a list ([a, b], or lines starting with -), not %s", describe(n))
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, e := range n.Content {
			if err := d.value(e, s.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	case reflect.String:
		if strings.HasSuffix(path, ".account_id") {
			return d.account(n, v, path)
		}
		if n.Kind != yaml.ScalarNode {
			return bad("want a string, not %s", describe(n))
		}
		if t := n.ShortTag(); t == "!!binary" || !strings.HasPrefix(t, "!!") {
			return bad("want a string, not a value tagged %s", n.Tag)
		}
		// Plain numbers, booleans and dates are taken as written: tags: [1.10] means "1.10".
		v.SetString(n.Value)
		return nil
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			return bad("%s: want true or false", describe(n))
		}
		b, err := strconv.ParseBool(strings.ToLower(n.Value))
		if err != nil {
			return bad("%s: want true or false", describe(n))
		}
		v.SetBool(b)
		return nil
	case reflect.Pointer:
		e := reflect.New(v.Type().Elem())
		if u, ok := e.Interface().(json.Unmarshaler); ok {
			// A type with its own JSON form (create_repository: true or {...}) decodes from the
			// node's JSON; its errors are given the field's path and line.
			var x any
			if err := n.Decode(&x); err != nil {
				return bad("%v", err)
			}
			b, err := json.Marshal(x)
			if err != nil {
				return bad("%v", err)
			}
			if err := u.UnmarshalJSON(b); err != nil {
				return bad("%v", err)
			}
		} else if err := d.value(n, e.Elem(), path); err != nil {
			return err
		}
		v.Set(e)
		return nil
	}
	return bad("cannot decode into %s", v.Type()) // a Config field of a new kind: a bug here
}

// mapping decodes a mapping node into the struct v: each key once, every key known, YAML merge
// keys (<<: *base) below the keys written beside them.
func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) error {
	fs, ok := d.fields[v.Type()]
	if !ok {
		fs = fields(v.Type())
		d.fields[v.Type()] = fs
	}
	set := map[string]int{} // key -> line it was given on
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return &FieldError{Field: path, Line: k.Line, Msg: "a key must be a plain name, not " + describe(k)}
		}
		if k.ShortTag() == "!!merge" {
			merges = append(merges, val)
			continue
		}
		fp := join(path, k.Value)
		i := slices.IndexFunc(fs, func(f field) bool { return f.name == k.Value })
		if i < 0 {
			return &FieldError{Field: fp, Line: k.Line, Msg: unknownField(k.Value, fs)}
		}
		f := fs[i]
		if l, dup := set[k.Value]; dup {
			return &FieldError{Field: fp, Line: k.Line, Msg: fmt.Sprintf("given twice (lines %d and %d): keep one", l, k.Line)}
		}
		set[k.Value] = k.Line
		d.lines[fp] = k.Line
		if err := d.value(val, v.FieldByIndex(f.index), fp); err != nil {
			return err
		}
	}
	// A merge key's value is a mapping or a list of them; earlier ones win, written keys win.
	for _, m := range merges {
		for m.Kind == yaml.AliasNode {
			m = m.Alias
		}
		srcs := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			srcs = m.Content
		}
		for _, s := range srcs {
			for s.Kind == yaml.AliasNode {
				s = s.Alias
			}
			if s.Kind != yaml.MappingNode {
				return &FieldError{Field: path, Line: s.Line, Msg: "<< merges a mapping, not " + describe(s)}
			}
			for i := 0; i+1 < len(s.Content); i += 2 {
				k := s.Content[i]
				if _, done := set[k.Value]; done && k.Kind == yaml.ScalarNode {
					continue
				}
				one := &yaml.Node{Kind: yaml.MappingNode, Line: s.Line, Content: s.Content[i : i+2]}
				if err := d.mapping(one, v, path); err != nil {
					return err
				}
				set[k.Value] = k.Line
			}
		}
	}
	return nil
}

// account reads an account ID as written: twelve digits, quoted or not. A quoted value is a
// string, whose shape Validate checks; an unquoted one that is not twelve digits is a number or
// word that YAML would turn into something else, and is refused here, as written.
func (d *decoder) account(n *yaml.Node, v reflect.Value, path string) error {
	quoted := n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0
	tagged := n.Style&yaml.TaggedStyle != 0 && n.ShortTag() != "!!str"
	if n.Kind == yaml.ScalarNode && !tagged && (quoted || awsname.ValidAccount(n.Value)) {
		v.SetString(n.Value)
		return nil
	}
	what := describe(n)
	if tagged {
		what = n.Tag + " " + what
	}
	return &FieldError{Field: path, Line: n.Line, Msg: fmt.Sprintf(`%s is not a 12-digit AWS account ID: write the account's 12 digits, e.g. account_id: "012345678901"`, what)}
}

// unknownField says a key is not one of names, and which it most likely meant.
func unknownField(key string, fs []field) string {
	best, bestD := "", len(key)/2+1
	var names []string
	for _, f := range fs {
		names = append(names, f.name)
		if d := awsregion.Distance(strings.ToLower(key), f.name); d < bestD {
			best, bestD = f.name, d
		}
	}
	if best != "" {
		return "unknown field; did you mean " + best + "?"
	}
	return "unknown field; here the fields are " + strings.Join(names, ", ")
}

// describe names a node's kind for an error: the text of a scalar, else what it is.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			return strconv.Quote(n.Value)
		}
		return n.Value
	}
	return "an empty value"
}
