package tfeval

import (
	"crypto/sha256"
	"encoding/base64"
	"os"
	"strings"

	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// Functions are the Terraform functions tfeval knows: those of cty's standard library that
// Terraform exposes under the same name and behaviour, plus strcontains, startswith and endswith.
// Terraform's replace() also takes /regex/ patterns; this one takes plain strings only. length()
// counts a string's characters, as Terraform's does, besides a collection's elements.
func Functions() map[string]function.Function {
	return map[string]function.Function{
		"alltrue":          boolFold(true),
		"fileexists":       fileExists,
		"filebase64sha256": fileBase64SHA256,
		"anytrue":          boolFold(false),
		"can":              tryfunc.CanFunc,
		"try":              tryfunc.TryFunc,
		"coalesce":         stdlib.CoalesceFunc,
		"compact":          stdlib.CompactFunc,
		"concat":           stdlib.ConcatFunc,
		"contains":         stdlib.ContainsFunc,
		"distinct":         stdlib.DistinctFunc,
		"flatten":          stdlib.FlattenFunc,
		"format":           stdlib.FormatFunc,
		"join":             stdlib.JoinFunc,
		"jsondecode":       stdlib.JSONDecodeFunc,
		"jsonencode":       stdlib.JSONEncodeFunc,
		"keys":             stdlib.KeysFunc,
		"length":           lengthFunc,
		"lookup":           stdlib.LookupFunc,
		"lower":            stdlib.LowerFunc,
		"max":              stdlib.MaxFunc,
		"merge":            stdlib.MergeFunc,
		"min":              stdlib.MinFunc,
		"regex":            stdlib.RegexFunc,
		"regexall":         stdlib.RegexAllFunc,
		"replace":          stdlib.ReplaceFunc,
		"sort":             stdlib.SortFunc,
		"split":            stdlib.SplitFunc,
		"toset":            stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
		"tolist":           stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
		"tostring":         stdlib.MakeToFunc(cty.String),
		"floor":            stdlib.FloorFunc,
		"upper":            stdlib.UpperFunc,
		"strcontains":      stringPredicate(strings.Contains),
		"startswith":       stringPredicate(strings.HasPrefix),
		"endswith":         stringPredicate(strings.HasSuffix),
	}
}

func stringPredicate(f func(s, sub string) bool) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "s", Type: cty.String}, {Name: "sub", Type: cty.String}},
		Type:   function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.BoolVal(f(args[0].AsString(), args[1].AsString())), nil
		},
	})
}

// fileExists is Terraform's fileexists: whether a regular file is at the path.
var fileExists = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "path", Type: cty.String}},
	Type:   function.StaticReturnType(cty.Bool),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		fi, err := os.Stat(args[0].AsString())
		return cty.BoolVal(err == nil && fi.Mode().IsRegular()), nil
	},
})

// fileBase64SHA256 is Terraform's filebase64sha256: the base64 SHA-256 of a file's bytes.
var fileBase64SHA256 = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "path", Type: cty.String}},
	Type:   function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		b, err := os.ReadFile(args[0].AsString())
		if err != nil {
			return cty.NilVal, err
		}
		sum := sha256.Sum256(b)
		return cty.StringVal(base64.StdEncoding.EncodeToString(sum[:])), nil
	},
})

// boolFold is alltrue (all=true) or anytrue (all=false) over a list of bools.
func boolFold(all bool) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "list", Type: cty.List(cty.Bool)}},
		Type:   function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			for it := args[0].ElementIterator(); it.Next(); {
				_, v := it.Element()
				if v.IsNull() || !v.IsKnown() {
					return cty.UnknownVal(cty.Bool), nil
				}
				if v.True() != all {
					return cty.BoolVal(!all), nil
				}
			}
			return cty.BoolVal(all), nil
		},
	})
}

// lengthFunc is Terraform's length: cty's for collections, its character count for a string.
var lengthFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "value", Type: cty.DynamicPseudoType, AllowDynamicType: true, AllowUnknown: true}},
	Type:   function.StaticReturnType(cty.Number),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		if args[0].Type() == cty.String {
			return stdlib.Strlen(args[0])
		}
		return stdlib.Length(args[0])
	},
})
