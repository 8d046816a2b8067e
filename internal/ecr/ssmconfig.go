package ecr

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"
)

// EnvConfigParameter names the SSM parameter that holds the config document when it does not fit
// in Lambda's 4 KB of environment (long lifecycle policies, many rules). The Terraform module
// writes the document there and sets this variable to the parameter's name.
const EnvConfigParameter = "ECRSYNC_CONFIG_PARAMETER"

// LoadConfigParameter reads the config document from the SSM parameter name (a name such as
// /ecrsync/config, or its ARN) with GetParameter, decrypting a SecureString, in awsCfg's Region.
// A missing parameter or a denied read is an error that names the parameter and the fix. It
// calls SSM's JSON API directly (callJSON): the SSM SDK client cost 2.2 ms of init at every
// start of the function and the CLI, for one call at the function's init.
func LoadConfigParameter(ctx context.Context, awsCfg aws.Config, name string) ([]byte, error) {
	region := awsCfg.Region
	if p := strings.SplitN(name, ":", 6); len(p) == 6 && strings.HasPrefix(name, "arn:") {
		region = p[3] // a parameter's ARN names its Region
	}
	var out struct {
		Parameter *struct {
			Value *string
		}
	}
	err := callJSON(ctx, awsCfg, "ssm", region, "AmazonSSM.GetParameter",
		map[string]any{"Name": name, "WithDecryption": true}, &out)
	var ae smithy.APIError
	switch {
	case errors.As(err, &ae) && ae.ErrorCode() == "ParameterNotFound":
		return nil, fmt.Errorf("config parameter %s (%s) does not exist in %s: create it with the config document (the Terraform module writes it), or fix %s: %w",
			name, EnvConfigParameter, awsCfg.Region, EnvConfigParameter, err)
	case errors.As(err, &ae) && (ae.ErrorCode() == "AccessDeniedException" || ae.ErrorCode() == "AccessDenied"):
		return nil, fmt.Errorf("reading config parameter %s was denied: the function's role needs ssm:GetParameter on the parameter's ARN (and kms:Decrypt on its key when it is a SecureString under a customer managed key): %w", name, err)
	case err != nil:
		return nil, fmt.Errorf("reading config parameter %s: %w", name, err)
	}
	if out.Parameter == nil || aws.ToString(out.Parameter.Value) == "" {
		return nil, fmt.Errorf("config parameter %s is empty: put the config document in it", name)
	}
	return []byte(aws.ToString(out.Parameter.Value)), nil
}
