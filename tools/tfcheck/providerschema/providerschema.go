// Package providerschema turns the JSON that `terraform providers schema -json`
// prints back into the protocol-5 schema types of terraform-plugin-go, so a
// schema-only stand-in provider can serve a real provider's schema as is.
package providerschema

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/hashicorp/terraform-plugin-go/tfprotov5"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// File is the top level of `terraform providers schema -json`.
type File struct {
	FormatVersion   string              `json:"format_version"`
	ProviderSchemas map[string]Provider `json:"provider_schemas"`
}

// Provider is one provider's entry in File.
type Provider struct {
	Provider          Schema            `json:"provider"`
	ResourceSchemas   map[string]Schema `json:"resource_schemas"`
	DataSourceSchemas map[string]Schema `json:"data_source_schemas"`
}

// Schema is a versioned block.
type Schema struct {
	Version int64 `json:"version"`
	Block   Block `json:"block"`
}

// Block is a configuration block: attributes and nested blocks.
type Block struct {
	Attributes map[string]Attribute   `json:"attributes"`
	BlockTypes map[string]NestedBlock `json:"block_types"`
}

// Attribute is one attribute; Type is a cty type in its JSON form.
type Attribute struct {
	Type      json.RawMessage `json:"type"`
	Required  bool            `json:"required"`
	Optional  bool            `json:"optional"`
	Computed  bool            `json:"computed"`
	Sensitive bool            `json:"sensitive"`
	// NestedType (protocol 6 nested attributes) is not representable in
	// protocol 5; Load fails if the file uses it.
	NestedType json.RawMessage `json:"nested_type"`
}

// NestedBlock is a block type nested in a Block.
type NestedBlock struct {
	NestingMode string `json:"nesting_mode"`
	Block       Block  `json:"block"`
	MinItems    int64  `json:"min_items"`
	MaxItems    int64  `json:"max_items"`
}

// Load reads path and returns the schema of provider source (for example
// "registry.terraform.io/hashicorp/aws") converted for protocol 5.
func Load(path, source string) (*tfprotov5.GetProviderSchemaResponse, error) {
	buf, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading provider schema: %w", err)
	}
	var f File
	if err := json.Unmarshal(buf, &f); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", path, err)
	}
	p, ok := f.ProviderSchemas[source]
	if !ok {
		return nil, fmt.Errorf("%s has no schema for %s", path, source)
	}
	return Convert(p)
}

// Convert converts one provider's schemas.
func Convert(p Provider) (*tfprotov5.GetProviderSchemaResponse, error) {
	resp := &tfprotov5.GetProviderSchemaResponse{
		ResourceSchemas:   map[string]*tfprotov5.Schema{},
		DataSourceSchemas: map[string]*tfprotov5.Schema{},
		Functions:         map[string]*tfprotov5.Function{},
		ServerCapabilities: &tfprotov5.ServerCapabilities{
			PlanDestroy: true,
		},
	}
	var err error
	if resp.Provider, err = convertSchema(p.Provider); err != nil {
		return nil, fmt.Errorf("provider: %w", err)
	}
	for name, s := range p.ResourceSchemas {
		if resp.ResourceSchemas[name], err = convertSchema(s); err != nil {
			return nil, fmt.Errorf("resource %s: %w", name, err)
		}
	}
	for name, s := range p.DataSourceSchemas {
		if resp.DataSourceSchemas[name], err = convertSchema(s); err != nil {
			return nil, fmt.Errorf("data source %s: %w", name, err)
		}
	}
	return resp, nil
}

func convertSchema(s Schema) (*tfprotov5.Schema, error) {
	b, err := convertBlock(s.Block)
	if err != nil {
		return nil, err
	}
	return &tfprotov5.Schema{Version: s.Version, Block: b}, nil
}

func convertBlock(b Block) (*tfprotov5.SchemaBlock, error) {
	out := &tfprotov5.SchemaBlock{}
	for _, name := range sortedKeys(b.Attributes) {
		a := b.Attributes[name]
		if len(a.NestedType) > 0 {
			return nil, fmt.Errorf("attribute %s: nested_type needs protocol 6", name)
		}
		t, err := tftypes.ParseJSONType(a.Type)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", name, err)
		}
		out.Attributes = append(out.Attributes, &tfprotov5.SchemaAttribute{
			Name: name, Type: t,
			Required: a.Required, Optional: a.Optional, Computed: a.Computed, Sensitive: a.Sensitive,
		})
	}
	for _, name := range sortedKeys(b.BlockTypes) {
		nb := b.BlockTypes[name]
		inner, err := convertBlock(nb.Block)
		if err != nil {
			return nil, fmt.Errorf("block %s: %w", name, err)
		}
		mode, err := nesting(nb.NestingMode)
		if err != nil {
			return nil, fmt.Errorf("block %s: %w", name, err)
		}
		out.BlockTypes = append(out.BlockTypes, &tfprotov5.SchemaNestedBlock{
			TypeName: name, Block: inner, Nesting: mode, MinItems: nb.MinItems, MaxItems: nb.MaxItems,
		})
	}
	return out, nil
}

func nesting(mode string) (tfprotov5.SchemaNestedBlockNestingMode, error) {
	switch mode {
	case "single":
		return tfprotov5.SchemaNestedBlockNestingModeSingle, nil
	case "list":
		return tfprotov5.SchemaNestedBlockNestingModeList, nil
	case "set":
		return tfprotov5.SchemaNestedBlockNestingModeSet, nil
	case "map":
		return tfprotov5.SchemaNestedBlockNestingModeMap, nil
	case "group":
		return tfprotov5.SchemaNestedBlockNestingModeGroup, nil
	}
	return tfprotov5.SchemaNestedBlockNestingModeInvalid, fmt.Errorf("unknown nesting_mode %q", mode)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
