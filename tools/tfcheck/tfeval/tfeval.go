// Package tfeval evaluates the plain-value parts of a Terraform module offline: input variables
// (with their validations), locals, and chosen resource arguments, using HCL and the cty function
// library that Terraform itself is built on. Data sources and other resources' attributes are
// stand-ins the caller supplies, or mock values; nothing is planned and no provider runs.
//
// It is for tests that check what a module computes (IAM policies, event patterns, config
// documents) against the rest of the code base, not a Terraform replacement: only the functions in
// Functions are known, and an expression using another one fails loudly.
package tfeval

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Module is the parsed configuration of one directory.
type Module struct {
	// Dir is the directory the module was loaded from (path.module).
	Dir       string
	Variables map[string]*Variable
	Locals    map[string]hcl.Expression
	// Resources are keyed "TYPE.NAME"; DataSources "TYPE.NAME" too.
	Resources   map[string]*Block
	DataSources map[string]*Block
}

// Variable is an input variable.
type Variable struct {
	Name        string
	Type        cty.Type
	Default     hcl.Expression // nil when the variable is required
	Validations []Validation
}

// Validation is one validation block of a variable.
type Validation struct {
	Condition    hcl.Expression
	ErrorMessage hcl.Expression
}

// Block is a resource or data block.
type Block struct {
	Type, Name string
	Body       *hclsyntax.Body
}

// Load parses every *.tf file in dir.
func Load(dir string) (*Module, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no .tf files in %s", dir)
	}
	m := &Module{
		Dir:       dir,
		Variables: map[string]*Variable{}, Locals: map[string]hcl.Expression{},
		Resources: map[string]*Block{}, DataSources: map[string]*Block{},
	}
	p := hclparse.NewParser()
	for _, f := range files {
		file, diags := p.ParseHCLFile(f)
		if diags.HasErrors() {
			return nil, diags
		}
		body := file.Body.(*hclsyntax.Body)
		for _, b := range body.Blocks {
			switch b.Type {
			case "variable":
				v, err := loadVariable(b)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", f, err)
				}
				m.Variables[v.Name] = v
			case "locals":
				for name, a := range b.Body.Attributes {
					m.Locals[name] = a.Expr
				}
			case "resource":
				m.Resources[b.Labels[0]+"."+b.Labels[1]] = &Block{Type: b.Labels[0], Name: b.Labels[1], Body: b.Body}
			case "data":
				m.DataSources[b.Labels[0]+"."+b.Labels[1]] = &Block{Type: b.Labels[0], Name: b.Labels[1], Body: b.Body}
			}
		}
	}
	return m, nil
}

func loadVariable(b *hclsyntax.Block) (*Variable, error) {
	v := &Variable{Name: b.Labels[0], Type: cty.DynamicPseudoType}
	if a, ok := b.Body.Attributes["type"]; ok {
		t, diags := typeexpr.TypeConstraint(a.Expr)
		if diags.HasErrors() {
			return nil, diags
		}
		v.Type = t
	}
	if a, ok := b.Body.Attributes["default"]; ok {
		v.Default = a.Expr
	}
	for _, vb := range b.Body.Blocks {
		if vb.Type != "validation" {
			continue
		}
		v.Validations = append(v.Validations, Validation{
			Condition:    vb.Body.Attributes["condition"].Expr,
			ErrorMessage: vb.Body.Attributes["error_message"].Expr,
		})
	}
	return v, nil
}

// Inputs are what a caller of the module provides.
type Inputs struct {
	// Vars are the module's input variables; others take their defaults.
	Vars map[string]cty.Value
	// Data are data source attributes keyed "TYPE.NAME", for example
	// "aws_region.this": {"region": "us-east-1"}.
	Data map[string]map[string]cty.Value
}

// Evaluated is a module evaluated with some inputs.
type Evaluated struct {
	m   *Module
	ctx *hcl.EvalContext
}

// Evaluate resolves variables (running their validations) and locals. Resource attributes that
// locals refer to are mocks: the string "mock:TYPE.NAME.ATTR" for any attribute; a resource with
// count is a one-element tuple of that, one with for_each an empty object.
func (m *Module) Evaluate(in Inputs) (*Evaluated, error) {
	vars := map[string]cty.Value{}
	for name, v := range m.Variables {
		val, given := in.Vars[name]
		switch {
		case given:
		case v.Default != nil:
			var diags hcl.Diagnostics
			val, diags = v.Default.Value(&hcl.EvalContext{Functions: Functions()})
			if diags.HasErrors() {
				return nil, fmt.Errorf("variable %s default: %w", name, diags)
			}
		default:
			return nil, fmt.Errorf("variable %s is required", name)
		}
		cv, err := convert.Convert(val, v.Type)
		if err != nil {
			return nil, fmt.Errorf("variable %s: %w", name, err)
		}
		vars[name] = cv
	}
	for name := range in.Vars {
		if _, ok := m.Variables[name]; !ok {
			return nil, fmt.Errorf("module has no variable %s", name)
		}
	}
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(vars)}, Functions: Functions()}
	if err := m.validate(ctx); err != nil {
		return nil, err
	}

	data := map[string]map[string]cty.Value{}
	for key, attrs := range in.Data {
		typ, name, _ := strings.Cut(key, ".")
		if data[typ] == nil {
			data[typ] = map[string]cty.Value{}
		}
		data[typ][name] = cty.ObjectVal(attrs)
	}
	dataObj := map[string]cty.Value{}
	for typ, byName := range data {
		dataObj[typ] = cty.ObjectVal(byName)
	}
	ctx.Variables["data"] = cty.ObjectVal(dataObj)
	// path.module as Terraform gives it for a local module: the module's directory.
	ctx.Variables["path"] = cty.ObjectVal(map[string]cty.Value{"module": cty.StringVal(m.Dir), "root": cty.StringVal(m.Dir), "cwd": cty.StringVal(m.Dir)})
	for typ, byName := range m.resourceMocks() {
		ctx.Variables[typ] = cty.ObjectVal(byName)
	}

	// Locals refer to each other: evaluate in passes until nothing changes.
	locals := map[string]cty.Value{}
	pending := map[string]hcl.Expression{}
	for k, v := range m.Locals {
		pending[k] = v
	}
	for len(pending) > 0 {
		progress := false
		for _, name := range sortedKeys(pending) {
			expr := pending[name]
			if !refsReady(expr, locals) {
				continue
			}
			ctx.Variables["local"] = cty.ObjectVal(locals)
			val, diags := expr.Value(ctx)
			if diags.HasErrors() {
				return nil, fmt.Errorf("local.%s: %w", name, diags)
			}
			locals[name] = val
			delete(pending, name)
			progress = true
		}
		if !progress {
			return nil, fmt.Errorf("locals %v refer to each other or to undefined locals", sortedKeys(pending))
		}
	}
	ctx.Variables["local"] = cty.ObjectVal(locals)
	return &Evaluated{m: m, ctx: ctx}, nil
}

// ValidationError is a failed variable validation.
type ValidationError struct {
	Variable, Message string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("variable %s: %s", e.Variable, e.Message)
}

func (m *Module) validate(ctx *hcl.EvalContext) error {
	for _, name := range sortedKeys(m.Variables) {
		for _, v := range m.Variables[name].Validations {
			ok, diags := v.Condition.Value(ctx)
			if diags.HasErrors() {
				return fmt.Errorf("variable %s validation: %w", name, diags)
			}
			if ok.IsNull() || !ok.IsKnown() || ok.Type() != cty.Bool {
				return fmt.Errorf("variable %s validation: condition is not a bool", name)
			}
			if ok.False() {
				msg, _ := v.ErrorMessage.Value(ctx)
				text := "validation failed"
				if msg.Type() == cty.String && msg.IsKnown() && !msg.IsNull() {
					text = msg.AsString()
				}
				return &ValidationError{Variable: name, Message: text}
			}
		}
	}
	return nil
}

func (m *Module) resourceMocks() map[string]map[string]cty.Value {
	out := map[string]map[string]cty.Value{}
	for _, b := range m.Resources {
		if out[b.Type] == nil {
			out[b.Type] = map[string]cty.Value{}
		}
		mock := mockObject(b.Type + "." + b.Name)
		switch {
		case b.Body.Attributes["count"] != nil:
			out[b.Type][b.Name] = cty.TupleVal([]cty.Value{mock})
		case b.Body.Attributes["for_each"] != nil:
			out[b.Type][b.Name] = cty.EmptyObjectVal
		default:
			out[b.Type][b.Name] = mock
		}
	}
	return out
}

// Mock is the value a mocked resource attribute has.
func Mock(resource, attr string) string { return "mock:" + resource + "." + attr }

func mockObject(resource string) cty.Value {
	attrs := map[string]cty.Value{}
	for _, a := range []string{"arn", "id", "name", "url", "function_name", "invoke_arn", "qualified_arn", "unique_id"} {
		attrs[a] = cty.StringVal(Mock(resource, a))
	}
	return cty.ObjectVal(attrs)
}

func refsReady(expr hcl.Expression, locals map[string]cty.Value) bool {
	for _, tr := range expr.Variables() {
		if tr.RootName() != "local" || len(tr) < 2 {
			continue
		}
		if a, ok := tr[1].(hcl.TraverseAttr); ok {
			if _, done := locals[a.Name]; !done {
				return false
			}
		}
	}
	return true
}

// Local returns a local value.
func (e *Evaluated) Local(name string) (cty.Value, error) {
	v, ok := e.ctx.Variables["local"].AsValueMap()[name]
	if !ok {
		return cty.NilVal, fmt.Errorf("no local %s", name)
	}
	return v, nil
}

// Attribute evaluates a resource argument, "TYPE.NAME" and a path of nested block types ending in
// the argument ("environment", "variables"); the first block of each type is used. each.key and
// each.value are eachKey when the resource has for_each.
func (e *Evaluated) Attribute(resource string, path []string, eachKey string) (cty.Value, error) {
	b, ok := e.m.Resources[resource]
	if !ok {
		return cty.NilVal, fmt.Errorf("no resource %s", resource)
	}
	body := b.Body
	for _, typ := range path[:len(path)-1] {
		var next *hclsyntax.Body
		for _, nb := range body.Blocks {
			if nb.Type == typ {
				next = nb.Body
				break
			}
		}
		if next == nil {
			return cty.NilVal, fmt.Errorf("%s has no block %s", resource, typ)
		}
		body = next
	}
	a, ok := body.Attributes[path[len(path)-1]]
	if !ok {
		return cty.NilVal, fmt.Errorf("%s has no argument %s", resource, strings.Join(path, "."))
	}
	ctx := e.ctx.NewChild()
	ctx.Variables = map[string]cty.Value{
		"each": cty.ObjectVal(map[string]cty.Value{"key": cty.StringVal(eachKey), "value": cty.StringVal(eachKey)}),
	}
	v, diags := a.Expr.Value(ctx)
	if diags.HasErrors() {
		return cty.NilVal, fmt.Errorf("%s.%s: %w", resource, strings.Join(path, "."), diags)
	}
	return v, nil
}

// String evaluates a resource argument that must be a known string.
func (e *Evaluated) String(resource string, path []string, eachKey string) (string, error) {
	v, err := e.Attribute(resource, path, eachKey)
	if err != nil {
		return "", err
	}
	if v.IsNull() || !v.IsKnown() || v.Type() != cty.String {
		return "", fmt.Errorf("%s.%s is not a known string", resource, strings.Join(path, "."))
	}
	return v.AsString(), nil
}

// ForEachKeys evaluates a resource's for_each and returns its keys.
func (e *Evaluated) ForEachKeys(resource string) ([]string, error) {
	v, err := e.Attribute(resource, []string{"for_each"}, "")
	if err != nil {
		return nil, err
	}
	var keys []string
	if v.CanIterateElements() {
		for it := v.ElementIterator(); it.Next(); {
			k, val := it.Element()
			if v.Type().IsSetType() {
				keys = append(keys, val.AsString())
			} else {
				keys = append(keys, k.AsString())
			}
		}
	}
	sort.Strings(keys)
	return keys, nil
}

// Count evaluates a resource's count (1 when it has none).
func (e *Evaluated) Count(resource string) (int, error) {
	if e.m.Resources[resource] == nil {
		return 0, fmt.Errorf("no resource %s", resource)
	}
	if e.m.Resources[resource].Body.Attributes["count"] == nil {
		return 1, nil
	}
	v, err := e.Attribute(resource, []string{"count"}, "")
	if err != nil {
		return 0, err
	}
	n, _ := v.AsBigFloat().Int64()
	return int(n), nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
