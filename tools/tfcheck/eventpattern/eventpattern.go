// Package eventpattern matches events against Amazon EventBridge event patterns, implementing the
// documented matching semantics for the operators ecrsync's rules use and a few neighbours:
// exact values, prefix, suffix, wildcard, anything-but, equals-ignore-case and exists.
// An operator it does not implement (numeric, cidr, $or) is an error, never a silent match.
//
// Semantics (EventBridge user guide, "Event patterns" and "Content filtering"):
//   - every field of the pattern must match; an object in the pattern matches an object in the event;
//   - a leaf is an array of matchers, any one of which may match;
//   - an array in the event matches when any of its elements matches;
//   - a missing field matches only {"exists": false}; every other matcher needs the field.
package eventpattern

import (
	"encoding/json"
	"fmt"
	"math/big"
	"sort"
	"strings"
)

// Match reports whether the event (JSON) matches the pattern (JSON).
func Match(pattern, event []byte) (bool, error) {
	var p map[string]any
	if err := decode(pattern, &p); err != nil {
		return false, fmt.Errorf("decoding pattern: %w", err)
	}
	var e any
	if err := decode(event, &e); err != nil {
		return false, fmt.Errorf("decoding event: %w", err)
	}
	obj, ok := e.(map[string]any)
	if !ok {
		return false, nil
	}
	return matchObject(p, obj)
}

func decode(buf []byte, v any) error {
	d := json.NewDecoder(strings.NewReader(string(buf)))
	d.UseNumber()
	return d.Decode(v)
}

func matchObject(p, e map[string]any) (bool, error) {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic errors
	for _, k := range keys {
		if strings.HasPrefix(k, "$") {
			return false, fmt.Errorf("operator %q is not implemented", k)
		}
		ev, present := e[k]
		switch pv := p[k].(type) {
		case map[string]any:
			sub, ok := ev.(map[string]any)
			if !present || !ok {
				return false, nil
			}
			m, err := matchObject(pv, sub)
			if err != nil || !m {
				return false, err
			}
		case []any:
			m, err := matchLeaf(pv, ev, present)
			if err != nil || !m {
				return false, err
			}
		default:
			return false, fmt.Errorf("field %q: a pattern leaf must be an array, got %T", k, pv)
		}
	}
	return true, nil
}

func matchLeaf(matchers []any, ev any, present bool) (bool, error) {
	if _, isObj := ev.(map[string]any); isObj {
		// Leaf matchers, exists included, apply to leaf values only.
		return false, nil
	}
	if !present {
		return anyExistsFalse(matchers)
	}
	values := []any{ev}
	if arr, ok := ev.([]any); ok {
		values = arr
	}
	for _, m := range matchers {
		for _, v := range values {
			ok, err := matchOne(m, v)
			if err != nil {
				return false, err
			}
			if ok {
				return true, nil
			}
		}
	}
	return false, nil
}

func anyExistsFalse(matchers []any) (bool, error) {
	for _, m := range matchers {
		if obj, ok := m.(map[string]any); ok {
			if ex, ok := obj["exists"]; ok {
				b, isBool := ex.(bool)
				if !isBool {
					return false, fmt.Errorf("exists needs true or false, got %v", ex)
				}
				if !b {
					return true, nil
				}
			}
		}
	}
	return false, nil
}

// matchOne matches one present event value against one matcher.
func matchOne(m, v any) (bool, error) {
	obj, ok := m.(map[string]any)
	if !ok {
		return equal(m, v), nil
	}
	if len(obj) != 1 {
		return false, fmt.Errorf("a matcher object has exactly one operator, got %v", obj)
	}
	for op, arg := range obj {
		switch op {
		case "exists":
			b, isBool := arg.(bool)
			if !isBool {
				return false, fmt.Errorf("exists needs true or false, got %v", arg)
			}
			return b, nil
		case "prefix", "suffix", "wildcard", "equals-ignore-case":
			return matchString(op, arg, v)
		case "anything-but":
			return anythingBut(arg, v)
		default:
			return false, fmt.Errorf("operator %q is not implemented", op)
		}
	}
	return false, nil
}

func matchString(op string, arg, v any) (bool, error) {
	s, ok := v.(string)
	if !ok {
		return false, nil
	}
	if inner, isObj := arg.(map[string]any); isObj && (op == "prefix" || op == "suffix") {
		// {"prefix": {"equals-ignore-case": "x"}}
		a, ok := inner["equals-ignore-case"].(string)
		if !ok || len(inner) != 1 {
			return false, fmt.Errorf("%s: unsupported argument %v", op, arg)
		}
		s, arg = strings.ToLower(s), strings.ToLower(a)
	}
	a, ok := arg.(string)
	if !ok {
		return false, fmt.Errorf("%s needs a string, got %v", op, arg)
	}
	switch op {
	case "prefix":
		return strings.HasPrefix(s, a), nil
	case "suffix":
		return strings.HasSuffix(s, a), nil
	case "equals-ignore-case":
		return strings.EqualFold(s, a), nil
	default:
		return Wildcard(a, s)
	}
}

func anythingBut(arg, v any) (bool, error) {
	switch a := arg.(type) {
	case []any:
		for _, x := range a {
			if equal(x, v) {
				return false, nil
			}
		}
		return true, nil
	case map[string]any:
		if len(a) != 1 {
			return false, fmt.Errorf("anything-but: one operator expected, got %v", a)
		}
		for op, inner := range a {
			switch op {
			case "prefix", "suffix", "wildcard", "equals-ignore-case":
				if _, isStr := v.(string); !isStr {
					return false, nil
				}
				if list, isList := inner.([]any); isList && op != "prefix" && op != "suffix" {
					for _, x := range list {
						m, err := matchString(op, x, v)
						if err != nil || m {
							return false, err
						}
					}
					return true, nil
				}
				m, err := matchString(op, inner, v)
				return !m, err
			default:
				return false, fmt.Errorf("anything-but: operator %q is not implemented", op)
			}
		}
	}
	return !equal(arg, v), nil
}

// equal compares JSON scalars; numbers compare by value (EventBridge compares numbers numerically).
func equal(a, b any) bool {
	an, aNum := a.(json.Number)
	bn, bNum := b.(json.Number)
	if aNum || bNum {
		if !aNum || !bNum {
			return false
		}
		x, ok1 := new(big.Float).SetString(an.String())
		y, ok2 := new(big.Float).SetString(bn.String())
		return ok1 && ok2 && x.Cmp(y) == 0
	}
	switch a.(type) {
	case map[string]any, []any:
		return false
	}
	return a == b
}

// Wildcard matches s against an EventBridge wildcard pattern: '*' matches any run of characters
// (including none and including '/'), "\*" and "\\" stand for '*' and '\'.
func Wildcard(pattern, s string) (bool, error) {
	type tok struct {
		star bool
		lit  string
	}
	var toks []tok
	var lit strings.Builder
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch {
		case c == '\\':
			if i+1 >= len(pattern) || (pattern[i+1] != '*' && pattern[i+1] != '\\') {
				return false, fmt.Errorf("wildcard %q: bad escape", pattern)
			}
			i++
			lit.WriteByte(pattern[i])
		case c == '*':
			if i+1 < len(pattern) && pattern[i+1] == '*' {
				return false, fmt.Errorf("wildcard %q: consecutive '*' are not allowed", pattern)
			}
			if lit.Len() > 0 {
				toks = append(toks, tok{lit: lit.String()})
				lit.Reset()
			}
			toks = append(toks, tok{star: true})
		default:
			lit.WriteByte(c)
		}
	}
	if lit.Len() > 0 {
		toks = append(toks, tok{lit: lit.String()})
	}
	// Greedy-free backtracking match over tokens.
	var rec func(ti int, rest string) bool
	rec = func(ti int, rest string) bool {
		if ti == len(toks) {
			return rest == ""
		}
		t := toks[ti]
		if !t.star {
			return strings.HasPrefix(rest, t.lit) && rec(ti+1, rest[len(t.lit):])
		}
		for i := 0; i <= len(rest); i++ {
			if rec(ti+1, rest[i:]) {
				return true
			}
		}
		return false
	}
	return rec(0, s), nil
}
