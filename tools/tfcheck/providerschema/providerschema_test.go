package providerschema

import (
	"os"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov5"
)

// schemaFile is ../shared/terraform/aws-provider-schema.json beside the repository root.
const schemaFile = "../../../../shared/terraform/aws-provider-schema.json"

func TestLoadServesEveryResourceAndDataSource(t *testing.T) {
	t.Parallel()
	path := schemaFile
	if p := os.Getenv("TFCHECK_AWS_SCHEMA"); p != "" {
		path = p
	}
	if _, err := os.Stat(path); err != nil {
		t.Skipf("provider schema not available: %v", err)
	}
	resp, err := Load(path, "registry.terraform.io/hashicorp/aws")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"aws_lambda_function", "aws_cloudwatch_event_rule", "aws_sqs_queue", "aws_iam_role_policy"} {
		if resp.ResourceSchemas[name] == nil {
			t.Errorf("resource %s missing", name)
		}
	}
	if resp.DataSourceSchemas["aws_region"] == nil || resp.Provider == nil {
		t.Error("data source aws_region or provider schema missing")
	}
	fn := resp.ResourceSchemas["aws_lambda_function"].Block
	var role *tfprotov5.SchemaAttribute
	for _, a := range fn.Attributes {
		if a.Name == "role" {
			role = a
		}
	}
	if role == nil || !role.Required {
		t.Errorf("aws_lambda_function.role should be a required attribute, got %+v", role)
	}
}

func TestConvertRejectsWhatProtocol5CannotCarry(t *testing.T) {
	t.Parallel()
	bad := []Provider{
		{ResourceSchemas: map[string]Schema{"x": {Block: Block{Attributes: map[string]Attribute{"a": {Type: []byte(`"string"`), NestedType: []byte(`{}`)}}}}}},
		{ResourceSchemas: map[string]Schema{"x": {Block: Block{Attributes: map[string]Attribute{"a": {Type: []byte(`"strin"`)}}}}}},
		{ResourceSchemas: map[string]Schema{"x": {Block: Block{BlockTypes: map[string]NestedBlock{"b": {NestingMode: "tree"}}}}}},
	}
	for i, p := range bad {
		if _, err := Convert(p); err == nil {
			t.Errorf("case %d: no error", i)
		}
	}
}
