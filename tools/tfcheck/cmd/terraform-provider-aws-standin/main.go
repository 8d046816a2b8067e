// Command terraform-provider-aws-standin is a SCHEMA-ONLY STAND-IN for the
// hashicorp/aws provider. It serves, over plugin protocol 5, exactly the
// schema in ../shared/terraform/aws-provider-schema.json (the real provider's
// `terraform providers schema -json` output, cut down to the resources this
// project uses), so that `terraform validate` can check deploy/terraform
// offline. It validates nothing beyond the schema and refuses to configure,
// plan, read or apply: it can never touch AWS.
//
// The schema file comes from $TFCHECK_AWS_SCHEMA, or else from
// aws-provider-schema.json beside the executable.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/terraform-plugin-go/tfprotov5"
	"github.com/hashicorp/terraform-plugin-go/tfprotov5/tf5server"

	"github.com/ecrsync/ecrsync/tools/tfcheck/providerschema"
)

const source = "registry.terraform.io/hashicorp/aws"

func main() {
	path, err := schemaPath()
	if err == nil {
		var resp *tfprotov5.GetProviderSchemaResponse
		if resp, err = providerschema.Load(path, source); err == nil {
			err = tf5server.Serve(source, func() tfprotov5.ProviderServer { return &standin{schema: resp} })
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "terraform-provider-aws-standin:", err)
		os.Exit(1)
	}
}

func schemaPath() (string, error) {
	if p := os.Getenv("TFCHECK_AWS_SCHEMA"); p != "" {
		return p, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(exe), "aws-provider-schema.json"), nil
}

// standin answers the RPCs `terraform validate` makes. The embedded
// interface is nil: any RPC not implemented below is a bug in how the
// stand-in is used (it is for validate only), and crashes loudly.
type standin struct {
	tfprotov5.ProviderServer
	schema *tfprotov5.GetProviderSchemaResponse
}

var refuse = []*tfprotov5.Diagnostic{{
	Severity: tfprotov5.DiagnosticSeverityError,
	Summary:  "schema-only stand-in for hashicorp/aws",
	Detail:   "terraform-provider-aws-standin serves the provider schema for `terraform validate` only; it cannot configure, plan, read or apply.",
}}

func (s *standin) GetMetadata(context.Context, *tfprotov5.GetMetadataRequest) (*tfprotov5.GetMetadataResponse, error) {
	resp := &tfprotov5.GetMetadataResponse{ServerCapabilities: s.schema.ServerCapabilities}
	for name := range s.schema.ResourceSchemas {
		resp.Resources = append(resp.Resources, tfprotov5.ResourceMetadata{TypeName: name})
	}
	for name := range s.schema.DataSourceSchemas {
		resp.DataSources = append(resp.DataSources, tfprotov5.DataSourceMetadata{TypeName: name})
	}
	return resp, nil
}

func (s *standin) GetProviderSchema(context.Context, *tfprotov5.GetProviderSchemaRequest) (*tfprotov5.GetProviderSchemaResponse, error) {
	return s.schema, nil
}

func (s *standin) GetResourceIdentitySchemas(context.Context, *tfprotov5.GetResourceIdentitySchemasRequest) (*tfprotov5.GetResourceIdentitySchemasResponse, error) {
	return &tfprotov5.GetResourceIdentitySchemasResponse{IdentitySchemas: map[string]*tfprotov5.ResourceIdentitySchema{}}, nil
}

func (s *standin) PrepareProviderConfig(_ context.Context, req *tfprotov5.PrepareProviderConfigRequest) (*tfprotov5.PrepareProviderConfigResponse, error) {
	return &tfprotov5.PrepareProviderConfigResponse{PreparedConfig: req.Config}, nil
}

func (s *standin) ValidateResourceTypeConfig(context.Context, *tfprotov5.ValidateResourceTypeConfigRequest) (*tfprotov5.ValidateResourceTypeConfigResponse, error) {
	return &tfprotov5.ValidateResourceTypeConfigResponse{}, nil
}

func (s *standin) ValidateDataSourceConfig(context.Context, *tfprotov5.ValidateDataSourceConfigRequest) (*tfprotov5.ValidateDataSourceConfigResponse, error) {
	return &tfprotov5.ValidateDataSourceConfigResponse{}, nil
}

func (s *standin) ConfigureProvider(context.Context, *tfprotov5.ConfigureProviderRequest) (*tfprotov5.ConfigureProviderResponse, error) {
	return &tfprotov5.ConfigureProviderResponse{Diagnostics: refuse}, nil
}

func (s *standin) PlanResourceChange(context.Context, *tfprotov5.PlanResourceChangeRequest) (*tfprotov5.PlanResourceChangeResponse, error) {
	return &tfprotov5.PlanResourceChangeResponse{Diagnostics: refuse}, nil
}

func (s *standin) ApplyResourceChange(context.Context, *tfprotov5.ApplyResourceChangeRequest) (*tfprotov5.ApplyResourceChangeResponse, error) {
	return &tfprotov5.ApplyResourceChangeResponse{Diagnostics: refuse}, nil
}

func (s *standin) ReadResource(context.Context, *tfprotov5.ReadResourceRequest) (*tfprotov5.ReadResourceResponse, error) {
	return &tfprotov5.ReadResourceResponse{Diagnostics: refuse}, nil
}

func (s *standin) ReadDataSource(context.Context, *tfprotov5.ReadDataSourceRequest) (*tfprotov5.ReadDataSourceResponse, error) {
	return &tfprotov5.ReadDataSourceResponse{Diagnostics: refuse}, nil
}

func (s *standin) StopProvider(context.Context, *tfprotov5.StopProviderRequest) (*tfprotov5.StopProviderResponse, error) {
	return &tfprotov5.StopProviderResponse{}, nil
}
